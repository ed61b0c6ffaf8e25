"""Uploads saved the reference's way (issue 11, item 6): ``file.save(path)`` without ``await``, then the file is
read at once, in the same handler.

Uploads go to a private directory per server process, on the file system of ``TMPDIR`` (where the spool is).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile

from gobstopper import FileStorage, Gobstopper, secure_filename

app = Gobstopper(__name__)
app.max_body_bytes = 64 * 1024 * 1024
UPLOADS = tempfile.mkdtemp(prefix="gobstopper-compat-uploads-")


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@app.post("/upload")
async def upload_file(request):
    files = await request.get_files()
    if "document" not in files:
        return {"error": "No file"}, 400
    file: FileStorage = files["document"]
    filename = secure_filename(file.filename)
    path = f"{UPLOADS}/{filename}"
    file.save(path)  # the reference's style: not awaited
    spool = file.stream
    answer = {
        "uploaded": filename,
        "size": os.path.getsize(path),  # the whole file is there when save() returns
        "sha256": _digest(path),
        "moved": os.stat(path).st_ino == os.fstat(spool.fileno()).st_ino,  # no copy of the spooled file
        "mode": oct(os.stat(path).st_mode & 0o777),
    }
    # Saving again (awaited this time, to another name and to a file object) gives the same bytes.
    await file.save(f"{UPLOADS}/again-{filename}")
    buffer = io.BytesIO()
    await file.save(buffer)
    answer["again"] = _digest(f"{UPLOADS}/again-{filename}") == answer["sha256"]
    answer["buffer"] = hashlib.sha256(buffer.getvalue()).hexdigest() == answer["sha256"]
    return answer


@app.get("/umask-mode")
async def umask_mode(request):
    """The mode a file created by ``open(path, "wb")`` gets in this process."""
    path = f"{UPLOADS}/probe-{os.getpid()}"
    with open(path, "wb"):
        pass
    mode = oct(os.stat(path).st_mode & 0o777)
    os.unlink(path)
    return {"mode": mode}
