"""Static files under attack: traversal, symlinks, device names, conditionals, ranges, precompressed siblings.

The tree is built at import time under the temporary directory, once per version of this file: every server
process imports this module, and servers stopped by signal run no clean-up, so the tree is shared and reused
(built aside, then renamed into place). Every file gets the same fixed mtime, so ETag and Last-Modified are
identical on every path and can be compared with ``assert_same``::

    BASE/
      secret.txt, secret.txt.gz, static1.txt, static_disallow/x    outside the root; all hold SECRET
      outside_public.txt                                           outside the root, harmless (follow opt-in)
      static/                                                      the root, mounted at /static and /follow
        hello.txt, empty.txt, big.bin (1 MiB), x.txt, foo, sub/inner.txt
        app.css (+ .gz, .br)        precompressed siblings
        evil.css (+ .gz -> ../secret.txt.gz)   a precompressed sibling that is a symlink leaving the root
        app.3f9a1c2b.js, report-20240101.pdf   fingerprinted / not fingerprinted
        link_in.txt -> hello.txt, link_out.txt -> ../secret.txt, link_pub.txt -> ../outside_public.txt,
        dangling -> ../nope.txt, outdir -> ../static_disallow, loop_a <-> loop_b, self_loop -> self_loop
        CON, NUL.txt, CON.txt.html, "CON  ", a/AUX, COM¹, literal "..\\secret.txt", "C:\\windows\\win.ini",
        "\\\\attacker\\share"       files that exist on POSIX but must never be served

``/probe/...`` echoes ``request.path`` as the app saw it, so a test can prove an input reached the app
unnormalised (otherwise a traversal test could pass without testing anything).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import shutil
import tempfile
from pathlib import Path

from gobstopper import Gobstopper, Response, send_from_directory
from gobstopper.middleware.static import StaticFileMiddleware

#: Every byte of every file outside the root carries this marker; it must never appear in an answer.
SECRET = b"GOBSTOPPER-TOP-SECRET-5f0e1d2c"
#: 2024-01-02T03:04:05.123456789Z, set on every file so that validators match across processes.
MTIME_NS = 1_704_164_645_123_456_789

HELLO = b"hello, static\n"
BIG = random.Random(20240102).randbytes(1 << 20)  # not periodic: a wrong offset cannot go unnoticed
CSS = b"body { color: #123456; }\n" * 40
CSS_GZ = gzip.compress(CSS, mtime=0)


def brotli_stored(data: bytes) -> bytes:
    """A valid brotli stream holding ``data`` in one uncompressed meta-block (no brotli module needed).

    Bits, LSB first: WBITS=16 ('0'), ISLAST=0, MNIBBLES=4 ('00'), MLEN-1 (16 bits), ISUNCOMPRESSED=1, padding;
    the raw bytes; then ISLAST=1, ISLASTEMPTY=1.
    """
    assert 0 < len(data) <= 1 << 16
    return ((len(data) - 1) << 4 | 1 << 20).to_bytes(3, "little") + data + b"\x03"


CSS_BR = brotli_stored(CSS)
EVIL_CSS = b"p { margin: 0 }\n"
JS = b"console.log('fingerprinted');\n"
PDF = b"%PDF-1.4 not really\n"
FOO = b"served as /staticfoo: the prefix did not match by segment\n"
OUTSIDE_PUBLIC = b"outside the root, served only with follow_symlinks=True\n"
DEVICE_NAMES = ("CON", "NUL.txt", "CON.txt.html", "CON  ", "a/AUX", "COM\u00b9")
LITERAL_BAD_NAMES = ("..\\secret.txt", "C:\\windows\\win.ini", "\\\\attacker\\share")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))


def _build(base: Path) -> None:
    root = base / "static"
    _write(base / "secret.txt", SECRET + b"\n")
    _write(base / "secret.txt.gz", gzip.compress(SECRET, mtime=0) + SECRET)
    _write(base / "static1.txt", SECRET + b" static1\n")
    _write(base / "static_disallow" / "x", SECRET + b" static_disallow\n")
    _write(base / "outside_public.txt", OUTSIDE_PUBLIC)
    files = {
        "hello.txt": HELLO,
        "empty.txt": b"",
        "big.bin": BIG,
        "x.txt": b"a file, not a directory\n",
        "foo": FOO,
        "sub/inner.txt": b"inner\n",
        "app.css": CSS,
        "app.css.gz": CSS_GZ,
        "app.css.br": CSS_BR,
        "evil.css": EVIL_CSS,
        "app.3f9a1c2b.js": JS,
        "report-20240101.pdf": PDF,
    }
    for name in DEVICE_NAMES + LITERAL_BAD_NAMES:
        files[name] = b"must not be served: " + name.encode()
    for name, data in files.items():
        _write(root / name, data)
    links = {
        "link_in.txt": "hello.txt",
        "link_out.txt": "../secret.txt",
        "link_pub.txt": "../outside_public.txt",
        "evil.css.gz": "../secret.txt.gz",
        "dangling": "../nope.txt",
        "outdir": "../static_disallow",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "self_loop": "self_loop",
    }
    for name, dest in links.items():
        os.symlink(dest, root / name)


def _tree() -> Path:
    version = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    base = Path(tempfile.gettempdir()) / f"gobstopper-static-site-{os.getuid()}-{version}"
    if base.is_dir() and not base.is_symlink() and base.stat().st_uid == os.getuid():
        return base
    tmp = Path(tempfile.mkdtemp(prefix=base.name + ".", dir=base.parent))
    _build(tmp)
    try:
        tmp.rename(base)  # atomic: a concurrent importer either wins or finds a complete tree
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (base.is_dir() and not base.is_symlink() and base.stat().st_uid == os.getuid()):
            raise
    return base


BASE = _tree()
ROOT = BASE / "static"

app = Gobstopper(__name__, debug=False)
app.add_middleware(StaticFileMiddleware(ROOT, url_prefix="/static"), priority=1000)
app.add_middleware(StaticFileMiddleware(ROOT, url_prefix="/follow", follow_symlinks=True), priority=1000)


async def probe(request, call_next):
    if request.path.startswith("/probe/"):
        return Response(request.path.encode("utf-8", "surrogateescape"), content_type="application/octet-stream")
    return await call_next(request)


app.add_middleware(probe, priority=2000)


@app.get("/staticfoo")
async def staticfoo(request):
    return "app route /staticfoo"


@app.get("/dl/<path:name>")
async def download(request, name):
    return send_from_directory(str(ROOT), name)
