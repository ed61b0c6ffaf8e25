"""Write static_vectors.json: the shared test vectors of the static resolver (Rust and Python twin).

The expected answers are spelled out here from STATIC.md, not computed by either implementation.
Run: python src/gobstopper_rs/tests/make_static_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

MTIME = 1_700_000_000_123_456_789  # Tue, 14 Nov 2023 22:13:20.123456789 GMT
LM = "Tue, 14 Nov 2023 22:13:20 GMT"
MTIME_BR = 1_700_000_100_000_000_000
REVALIDATE = "public, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"

# Paths are relative to a temporary base directory; the static root is "static".
FILES: dict[str, object] = {
    "static/a.txt": "hello",
    "static/empty.txt": "",
    "static/data.bin": "0123456789",
    "static/README": "readme",
    "static/IMG.PNG": "png",
    "static/.hidden": "dot",
    "static/sub/app.3f9a1c2b.js": "console.log(1)",
    "static/sub/page.html": "<p>hi</p>",
    "static/app.js": "var a = 1; // identity body",
    "static/app.js.br": {"content": "BR", "mtime_ns": MTIME_BR},
    "static/app.js.gz": "GZIP!",
    "static/style.css": "body{}",
    "static/style.css.gz": "gz-css",
    "static/lib.js": "lib",
    "static/lib.js.gz": {"symlink": "../outside/secret.txt"},
    "static/d.js": "d",
    "static/d.js.br": {"dir": True},
    "static/only.js.gz": "gz",
    "static/alias.txt": {"symlink": "a.txt"},
    "static/linkdir": {"symlink": "sub"},
    "static/evil": {"symlink": "../outside/secret.txt"},
    "static/evil_missing": {"symlink": "../outside/missing.txt"},
    "static/outdir": {"symlink": "../outside"},
    "static/loop": {"symlink": "loop"},
    "static/loop_a": {"symlink": "loop_b"},
    "static/loop_b": {"symlink": "loop_a"},
    "static/con.txt": "device",
    "static/CON": "device",
    "static/COM\u00b9": "device",
    "static/dot.": "trailing dot",
    "static/x:y.txt": "colon",
    "static/old.txt": {"content": "old", "mtime_ns": -1_500_000_000},
    "static/caf\u00e9.txt": "unicode",
    "static/%2e%2e": "literal percent name",
    "outside/secret.txt": "TOP SECRET",
    "static_disallow/x.txt": "sibling dir",
    "static1.txt": "sibling file",
}


def etag(size: int, mtime_ns: int = MTIME, suffix: str = "") -> str:
    """The strong validator of a file: size and nanosecond mtime (STATIC.md §5)."""
    mt = format(mtime_ns, "x")
    return f'"{size:x}-{mt}{suffix}"'


def ok(
    path: str,
    size: int,
    ctype: str,
    *,
    cache: str = REVALIDATE,
    mtime_ns: int = MTIME,
    lm: str = LM,
    vary: bool = False,
    coding: str | None = None,
    rng: tuple[int, int] | None = None,
) -> dict[str, object]:
    suffix = {"br": "-br", "gzip": "-gz", None: ""}[coding]
    start, end = rng if rng else (0, size)
    headers = [
        ["content-type", ctype],
        ["content-length", str(end - start)],
        ["etag", etag(size, mtime_ns, suffix)],
        ["last-modified", lm],
        ["cache-control", cache],
        ["accept-ranges", "bytes"],
    ]
    if vary:
        headers.append(["vary", "accept-encoding"])
    if coding:
        headers.append(["content-encoding", coding])
    if rng:
        headers.append(["content-range", f"bytes {start}-{end - 1}/{size}"])
    return {"status": 206 if rng else 200, "path": path, "headers": headers, "start": start, "end": end}


NOT_FOUND = {"status": 404, "path": None, "headers": [], "start": 0, "end": 0}
TEXT = "text/plain; charset=utf-8"
JS = "text/javascript; charset=utf-8"


def not_modified(size: int, *, mtime_ns: int = MTIME, vary: bool = False, suffix: str = "") -> dict[str, object]:
    headers = [["etag", etag(size, mtime_ns, suffix)], ["cache-control", REVALIDATE]]
    if vary:
        headers.append(["vary", "accept-encoding"])
    return {"status": 304, "path": None, "headers": headers, "start": 0, "end": 0}


def precondition_failed(*, vary: bool = False) -> dict[str, object]:
    headers = [["vary", "accept-encoding"]] if vary else []
    return {"status": 412, "path": None, "headers": headers, "start": 0, "end": 0}


def unsatisfiable(size: int) -> dict[str, object]:
    return {"status": 416, "path": None, "headers": [["content-range", f"bytes */{size}"]], "start": 0, "end": 0}


VECTORS: list[dict[str, object]] = []


def v(name: str, rel_path: str, expect: dict[str, object], **request: object) -> None:
    req = {
        "rel_path": rel_path,
        "method": request.pop("method", "GET"),
        "if_none_match": request.pop("inm", None),
        "if_modified_since": request.pop("ims", None),
        "range_header": request.pop("range", None),
        "accept_encoding": request.pop("ae", None),
        "if_match": request.pop("im", None),
        "if_unmodified_since": request.pop("ius", None),
        "if_range": request.pop("ir", None),
    }
    follow = request.pop("follow_symlinks", False)
    assert not request, request
    VECTORS.append({"name": name, "request": req, "follow_symlinks": follow, "expect": expect})


A = ok("static/a.txt", 5, TEXT)

# Basics
v("plain file", "a.txt", A)
v("leading slash is stripped once", "/a.txt", A)
v("HEAD is the same answer", "a.txt", A, method="HEAD")
v(
    "other methods are 405",
    "a.txt",
    {"status": 405, "path": None, "headers": [["allow", "GET, HEAD"]], "start": 0, "end": 0},
    method="POST",
)
v(
    "method is case-sensitive",
    "a.txt",
    {"status": 405, "path": None, "headers": [["allow", "GET, HEAD"]], "start": 0, "end": 0},
    method="get",
)
v(
    "405 comes before any path check",
    "../../etc/passwd",
    {"status": 405, "path": None, "headers": [["allow", "GET, HEAD"]], "start": 0, "end": 0},
    method="DELETE",
)
v("fingerprinted name is immutable", "sub/app.3f9a1c2b.js", ok("static/sub/app.3f9a1c2b.js", 14, JS, cache=IMMUTABLE))
v("html", "sub/page.html", ok("static/sub/page.html", 9, "text/html; charset=utf-8"))
v("unknown extension", "data.bin", ok("static/data.bin", 10, "application/octet-stream"))
v("no extension", "README", ok("static/README", 6, "application/octet-stream"))
v("extension is case-insensitive", "IMG.PNG", ok("static/IMG.PNG", 3, "image/png"))
v("dotfiles are served", ".hidden", ok("static/.hidden", 3, "application/octet-stream"))
v("unicode name", "caf\u00e9.txt", ok("static/caf\u00e9.txt", 7, TEXT))
v("a literal %2e%2e name is just a name", "%2e%2e", ok("static/%2e%2e", 20, "application/octet-stream"))
v(
    "negative mtime: signed hex etag, clamped date",
    "old.txt",
    ok("static/old.txt", 3, TEXT, mtime_ns=-1_500_000_000, lm="Thu, 01 Jan 1970 00:00:00 GMT"),
)
v("missing file", "missing.txt", NOT_FOUND)
v("directory", "sub", NOT_FOUND)
v("directory with slash", "sub/", NOT_FOUND)
v("empty path", "", NOT_FOUND)
v("root itself", "/", NOT_FOUND)
v("file used as a directory", "a.txt/y", NOT_FOUND)
v("a slash-absolute path stays relative", "/etc/passwd", NOT_FOUND)

# Traversal (docs/hardening.md rows 1-10)
for name, path in [
    ("dot-dot", "../outside/secret.txt"),
    ("dot-dot to /etc", "../../../../etc/passwd"),
    ("dot-dot that would land inside", "sub/../a.txt"),
    ("single dot segment", "./a.txt"),
    ("decoded %2f inside a segment", "..%2fsecret"),
    ("decoded %2f made a real slash", "a/../../outside/secret.txt"),
    ("backslash", "..\\outside\\secret.txt"),
    ("UNC path", "\\\\attacker\\share\\x"),
    ("sibling directory prefix", "../static_disallow/x.txt"),
    ("sibling file prefix", "../static1.txt"),
    ("double slash absolute", "//etc/passwd"),
    ("empty middle segment", "sub//app.3f9a1c2b.js"),
    ("drive letter backslash", "C:\\windows\\win.ini"),
    ("drive letter slash", "C:/windows/win.ini"),
    ("colon anywhere", "x:y.txt"),
    ("NUL byte", "a\x00.txt"),
    ("control character", "a\x01.txt"),
    ("DEL character", "a\x7f.txt"),
    ("trailing dot", "dot."),
    ("trailing dot on an existing name", "a.txt."),
    ("trailing space", "a.txt "),
    ("dot-dot with trailing space", ".. /outside/secret.txt"),
    ("triple dot", "..."),
    ("device CON", "CON"),
    ("device lower-case with extension", "con.txt"),
    ("device with two extensions", "CON.txt.html"),
    ("device with trailing spaces", "CON  "),
    ("device with spaces before the dot", "NUL  .txt"),
    ("device in a subdirectory", "sub/AUX"),
    ("device with superscript digit", "COM\u00b9"),
    ("device LPT9", "lpt9.log"),
    ("device COM0", "com0"),
    ("device CONIN$", "CONIN$"),
    ("segment longer than 255 bytes", "a" * 256),
    ("path longer than 4096 bytes", "/".join(["abcdefgh"] * 500)),
    ("lone surrogate", "a\udcff.txt"),
    ("symlink leaving the root", "evil"),
    ("dangling symlink leaving the root", "evil_missing"),
    ("directory symlink leaving the root, existing file", "outdir/secret.txt"),
    ("directory symlink leaving the root, missing file", "outdir/missing.txt"),
    ("symlink loop", "loop"),
    ("symlink cycle", "loop_a"),
]:
    v(f"refused: {name}", path, NOT_FOUND)

v("symlink inside pointing inside", "alias.txt", A)
v("directory symlink inside", "linkdir/app.3f9a1c2b.js", ok("static/sub/app.3f9a1c2b.js", 14, JS, cache=IMMUTABLE))
v(
    "following symlinks is an explicit opt-in",
    "evil",
    ok("outside/secret.txt", 10, "application/octet-stream"),
    follow_symlinks=True,
)
v("following symlinks still refuses dot-dot", "../outside/secret.txt", NOT_FOUND, follow_symlinks=True)
v("following symlinks: loops are still 404", "loop", NOT_FOUND, follow_symlinks=True)
v("device-like but longer names are fine", "sub/page.html", ok("static/sub/page.html", 9, "text/html; charset=utf-8"))

# Conditional requests
E5 = etag(5)
v("If-None-Match exact", "a.txt", not_modified(5), inm=E5)
v("If-None-Match weak form matches weakly", "a.txt", not_modified(5), inm="W/" + E5)
v("If-None-Match list", "a.txt", not_modified(5), inm=f'"nope", {E5}')
v("If-None-Match star", "a.txt", not_modified(5), inm="*")
v("If-None-Match mismatch", "a.txt", A, inm='W/"5-0"')
v("If-None-Match empty", "a.txt", A, inm="")
v("If-None-Match mismatch wins over If-Modified-Since", "a.txt", A, inm='"x"', ims="Fri, 01 Jan 2100 00:00:00 GMT")
v("If-None-Match beats Range", "a.txt", not_modified(5), inm=E5, range="bytes=0-1")
v("If-Modified-Since equal second", "a.txt", not_modified(5), ims=LM)
v("If-Modified-Since later", "a.txt", not_modified(5), ims="Wed, 15 Nov 2023 00:00:00 GMT")
v("If-Modified-Since one second earlier", "a.txt", A, ims="Tue, 14 Nov 2023 22:13:19 GMT")
v("If-Modified-Since RFC 850", "a.txt", not_modified(5), ims="Tuesday, 14-Nov-23 22:13:20 GMT")
v("If-Modified-Since asctime", "a.txt", not_modified(5), ims="Tue Nov 14 22:13:20 2023")
v("If-Modified-Since asctime one-digit day", "a.txt", not_modified(5), ims="Fri Dec  1 00:00:00 2023")
v("If-Modified-Since malformed is ignored", "a.txt", A, ims="14 Nov 2023 22:13:20")
v("If-Modified-Since bad day is ignored", "a.txt", A, ims="Tue, 31 Nov 2099 22:13:20 GMT")
v("If-Modified-Since non-GMT is ignored", "a.txt", A, ims="Tue, 14 Nov 2099 22:13:20 UTC")
v("If-Modified-Since on HEAD", "a.txt", not_modified(5), ims=LM, method="HEAD")

# Preconditions (RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, If-Range)
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
v("If-Match exact", "a.txt", A, im=E5)
v("If-Match in a list", "a.txt", A, im=f'"nope", {E5}')
v("If-Match star", "a.txt", A, im="*")
v("If-Match mismatch is 412", "a.txt", precondition_failed(), im='"nope"')
v("If-Match compares strongly: a weak tag never matches", "a.txt", precondition_failed(), im="W/" + E5)
v("If-Match empty is 412", "a.txt", precondition_failed(), im="")
v("If-Match mismatch on HEAD", "a.txt", precondition_failed(), im='"nope"', method="HEAD")
v("If-Match mismatch beats If-None-Match", "a.txt", precondition_failed(), im='"nope"', inm=E5)
v("If-Match mismatch beats Range", "a.txt", precondition_failed(), im='"nope"', range="bytes=0-1")
v("If-Match then If-None-Match", "a.txt", not_modified(5), im=E5, inm=E5)
v("If-Match then Range", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 2)), im=E5, range="bytes=0-1")
v("If-Match present: If-Unmodified-Since is not evaluated", "a.txt", A, im=E5, ius=EARLIER)
v("If-Unmodified-Since equal second", "a.txt", A, ius=LM)
v("If-Unmodified-Since later", "a.txt", A, ius="Wed, 15 Nov 2023 00:00:00 GMT")
v("If-Unmodified-Since one second earlier is 412", "a.txt", precondition_failed(), ius=EARLIER)
v("If-Unmodified-Since malformed is ignored", "a.txt", A, ius="yesterday")
v("If-Unmodified-Since RFC 850", "a.txt", precondition_failed(), ius="Tuesday, 14-Nov-23 22:13:19 GMT")
v("If-Unmodified-Since failure beats If-None-Match", "a.txt", precondition_failed(), ius=EARLIER, inm=E5)
v("If-Unmodified-Since failure beats If-Modified-Since", "a.txt", precondition_failed(), ius=EARLIER, ims=LM)
v("If-Range strong tag match: the range", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 2)), range="bytes=0-1", ir=E5)
v("If-Range other tag: the whole file", "a.txt", A, range="bytes=0-1", ir='"other-tag"')
v("If-Range weak tag never matches", "a.txt", A, range="bytes=0-1", ir="W/" + E5)
v("If-Range date equal to Last-Modified", "a.txt", ok("static/a.txt", 5, TEXT, rng=(1, 5)), range="bytes=1-", ir=LM)
v("If-Range earlier date: the whole file", "a.txt", A, range="bytes=1-", ir=EARLIER)
v("If-Range later date: the whole file", "a.txt", A, range="bytes=1-", ir="Wed, 15 Nov 2023 00:00:00 GMT")
v("If-Range garbage: the whole file", "a.txt", A, range="bytes=1-", ir="garbage")
v(
    "If-Range with spaces around the tag",
    "a.txt",
    ok("static/a.txt", 5, TEXT, rng=(0, 1)),
    range="bytes=0-0",
    ir=f" {E5}\t",
)
v("If-Range without Range has no effect", "a.txt", A, ir='"other-tag"')
v("If-Range false: an unsatisfiable Range is ignored too", "a.txt", A, range="bytes=99-", ir='"other-tag"')
v("If-Range true: an unsatisfiable Range is 416", "a.txt", unsatisfiable(5), range="bytes=99-", ir=E5)
v("If-Range after If-None-Match", "a.txt", not_modified(5), range="bytes=0-1", ir='"other-tag"', inm=E5)
v(
    "If-Range on HEAD",
    "a.txt",
    ok("static/a.txt", 5, TEXT, rng=(0, 2)),
    range="bytes=0-1",
    ir=E5,
    method="HEAD",
)
v(
    "If-Range date of a negative mtime compares with the Last-Modified sent (clamped to 1970)",
    "old.txt",
    ok("static/old.txt", 3, TEXT, mtime_ns=-1_500_000_000, lm="Thu, 01 Jan 1970 00:00:00 GMT", rng=(0, 1)),
    range="bytes=0-0",
    ir="Thu, 01 Jan 1970 00:00:00 GMT",
)

# Ranges
v("range first two bytes", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 2)), range="bytes=0-1")
v("range open end", "a.txt", ok("static/a.txt", 5, TEXT, rng=(1, 5)), range="bytes=1-")
v("range suffix", "a.txt", ok("static/a.txt", 5, TEXT, rng=(3, 5)), range="bytes=-2")
v("range suffix longer than file", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 5)), range="bytes=-50")
v("range end clamped", "a.txt", ok("static/a.txt", 5, TEXT, rng=(2, 5)), range="bytes=2-999")
v("range huge end clamped", "a.txt", ok("static/a.txt", 5, TEXT, rng=(2, 5)), range="bytes=2-" + "9" * 40)
v("range leading zeros", "a.txt", ok("static/a.txt", 5, TEXT, rng=(1, 2)), range="bytes=" + "0" * 30 + "1-1")
v("range unit case and spaces", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 1)), range="Bytes= 0-0 ,")
v("range on HEAD", "a.txt", ok("static/a.txt", 5, TEXT, rng=(0, 2)), range="bytes=0-1", method="HEAD")
v("range start past the end", "a.txt", unsatisfiable(5), range="bytes=5-")
v("range far past the end", "a.txt", unsatisfiable(5), range="bytes=999999-")
v("range huge start", "a.txt", unsatisfiable(5), range="bytes=" + "9" * 40 + "-")
v("range zero suffix", "a.txt", unsatisfiable(5), range="bytes=-0")
v("range on an empty file", "empty.txt", unsatisfiable(0), range="bytes=0-")
v("empty file without range", "empty.txt", ok("static/empty.txt", 0, TEXT))
for name, header in [
    ("colon instead of equals", "bytes: 0-1"),
    ("other unit", "items=0-1"),
    ("superscript digit", "bytes=\u00b9-2"),
    ("arabic-indic digit", "bytes=\u0661-2"),
    ("plus sign", "bytes=+1-2"),
    ("inverted", "bytes=3-1"),
    ("no dash", "bytes=1"),
    ("empty set", "bytes="),
    ("just a dash", "bytes=-"),
    ("two ranges", "bytes=0-0,2-2"),
    ("5,000 ranges", "bytes=" + ",".join(["0-0"] * 5000)),
    ("inner spaces", "bytes=0 - 1"),
    ("no unit", "=0-1"),
]:
    v(f"range ignored: {name}", "a.txt", A, range=header)

# Precompressed siblings
APP = 27
v(
    "br preferred",
    "app.js",
    ok("static/app.js.br", 2, JS, mtime_ns=MTIME_BR, lm="Tue, 14 Nov 2023 22:15:00 GMT", vary=True, coding="br"),
    ae="gzip, br",
)
v("gzip when br is not accepted", "app.js", ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"), ae="gzip")
v("x-gzip is gzip", "app.js", ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"), ae="x-gzip")
v("br refused with q=0", "app.js", ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"), ae="br;q=0, gzip;q=0.5")
v(
    "star allows br",
    "app.js",
    ok("static/app.js.br", 2, JS, mtime_ns=MTIME_BR, lm="Tue, 14 Nov 2023 22:15:00 GMT", vary=True, coding="br"),
    ae="*",
)
v("star q=0 with explicit gzip", "app.js", ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"), ae="*;q=0, gzip")
v("invalid q ignores the entry", "app.js", ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"), ae="br;q=2, gzip")
v(
    "upper-case coding",
    "app.js",
    ok("static/app.js.br", 2, JS, mtime_ns=MTIME_BR, lm="Tue, 14 Nov 2023 22:15:00 GMT", vary=True, coding="br"),
    ae="BR",
)
v("no Accept-Encoding: identity, still Vary", "app.js", ok("static/app.js", APP, JS, vary=True))
v("identity only", "app.js", ok("static/app.js", APP, JS, vary=True), ae="identity")
v(
    "only a .gz sibling and br asked",
    "style.css",
    ok("static/style.css", 6, "text/css; charset=utf-8", vary=True),
    ae="br",
)
v(
    "only a .gz sibling and gzip asked",
    "style.css",
    ok("static/style.css.gz", 6, "text/css; charset=utf-8", vary=True, coding="gzip"),
    ae="gzip, br",
)
v(
    "range on the encoded bytes",
    "app.js",
    ok("static/app.js.gz", 5, JS, vary=True, coding="gzip", rng=(1, 3)),
    ae="gzip",
    range="bytes=1-2",
)
v(
    "If-None-Match of the identity variant does not match the gzip variant",
    "app.js",
    ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"),
    ae="gzip",
    inm=etag(APP),
)
v(
    "If-None-Match of the gzip variant",
    "app.js",
    not_modified(5, vary=True, suffix="-gz"),
    ae="gzip",
    inm=etag(5, MTIME, "-gz"),
)
v(
    "If-Match of the identity variant fails for the gzip variant (with Vary)",
    "app.js",
    precondition_failed(vary=True),
    ae="gzip",
    im=etag(APP),
)
v(
    "If-Match of the gzip variant",
    "app.js",
    ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"),
    ae="gzip",
    im=etag(5, MTIME, "-gz"),
)
v(
    "If-Range of the gzip variant: a range of the encoded bytes",
    "app.js",
    ok("static/app.js.gz", 5, JS, vary=True, coding="gzip", rng=(1, 3)),
    ae="gzip",
    range="bytes=1-2",
    ir=etag(5, MTIME, "-gz"),
)
v(
    "If-Range of the identity variant: the whole gzip variant",
    "app.js",
    ok("static/app.js.gz", 5, JS, vary=True, coding="gzip"),
    ae="gzip",
    range="bytes=1-2",
    ir=etag(APP),
)
v("sibling symlink leaving the root is ignored", "lib.js", ok("static/lib.js", 3, JS), ae="gzip")
v(
    "sibling symlink leaving the root, followed when opted in",
    "lib.js",
    ok("outside/secret.txt", 10, JS, vary=True, coding="gzip"),
    ae="gzip",
    follow_symlinks=True,
)
v("sibling directory is ignored", "d.js", ok("static/d.js", 1, JS), ae="br")
v("a sibling without its original is 404", "only.js", NOT_FOUND, ae="gzip")
v("asking for the .gz file itself", "app.js.gz", ok("static/app.js.gz", 5, "application/gzip"), ae="gzip")

if __name__ == "__main__":
    out = Path(__file__).with_name("static_vectors.json")
    data = {"mtime_ns": MTIME, "files": FILES, "vectors": VECTORS}
    out.write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {len(VECTORS)} vectors to {out}")
