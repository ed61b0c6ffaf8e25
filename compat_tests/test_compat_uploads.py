"""``FileStorage.save(path)`` without ``await`` completes before it returns, on every path (issue 11, item 6).

The reference's upload example followed by ``os.path.getsize(path)`` used to be a 500 (``FileNotFoundError``):
the copy ran in a worker thread. Now a small upload is written at once and a spooled one (over 1 MiB, already a
file in ``TMPDIR``) is moved into place: same inode, no copy, the mode a new file gets.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from compat_tests.harness import Target

APP = "uploads:app"
BOUNDARY = "compatuploadboundary"


def body(name: str, filename: str, data: bytes) -> bytes:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
    return head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize(
    ("size", "moved"),
    [(0, False), (10, False), (1024 * 1024, False), (3 * 1024 * 1024 + 7, True)],
    ids=["empty", "small", "spool-limit", "on-disk"],
)
def test_save_without_await_is_complete_when_it_returns(target: Target, size: int, moved: bool) -> None:
    data = random.Random(size).randbytes(size)
    r = target.post(
        "/upload",
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        content=body("document", "../../My Report.bin", data),
    )
    assert r.status == 200, r
    got = r.json()
    assert got["uploaded"] == "My_Report.bin"
    assert (got["size"], got["sha256"]) == (size, hashlib.sha256(data).hexdigest()), got
    assert got["moved"] is moved, got
    assert got["again"] and got["buffer"], got
    assert got["mode"] == target.get("/umask-mode").json()["mode"], got  # as if created by open(path, "wb")
