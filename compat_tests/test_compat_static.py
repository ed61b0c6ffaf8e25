"""Static files over every path: traversal (docs/hardening.md rows 1-10), Range (row 11), conditionals, HEAD,
precompressed siblings, cache-control, the 1 MiB file byte for byte.

Every request goes through ``target.raw``: a raw socket on real servers, so nothing is normalised on the way.
The in-process clients (httpx) remove literal ``.``/``..`` segments and cannot encode non-ASCII header values;
those cases are marked ``real_servers_only``. ``/probe/...`` (see apps/static_site.py) echoes the path the app
received, and each traversal case first proves its input reached the app as intended.

The expected answer for every refused path is the answer for a missing file, on the same path and on the
reference path: refused, missing, outside-the-root and directory answers must be indistinguishable (row 10).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from urllib.parse import unquote

import pytest

from compat_tests.harness import SERVER_HEADERS, Result, ServerTarget, Target, assert_same, load_app

APP = "static_site:app"

load_app(APP)
import static_site as site  # noqa: E402  (importable once load_app put compat_tests/apps on sys.path)

SIZE = len(site.BIG)
MTIME_HEX = f"{site.MTIME_NS:x}"
LAST_MODIFIED = "Tue, 02 Jan 2024 03:04:05 GMT"
TEXT = "text/plain; charset=utf-8"
NO_CACHE = "public, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
MISSING = "/static/no-such-file.txt"
real_only = pytest.mark.real_servers_only


def etag(data: bytes, suffix: str = "") -> str:
    """The strong validator: size and nanosecond mtime (STATIC.md §5)."""
    return f'"{len(data):x}-{MTIME_HEX}{suffix}"'


def request_bytes(path: str, headers: Sequence[tuple[str, str]] = (), method: str = "GET") -> bytes:
    base = {"host": "testserver", "user-agent": "compat-tests", "accept": "*/*", "accept-encoding": "identity"}
    given = {k.lower() for k, _ in headers}
    lines = [f"{k}: {v}" for k, v in base.items() if k not in given] + [f"{k}: {v}" for k, v in headers]
    data = f"{method} {path} HTTP/1.1\r\n" + "".join(line + "\r\n" for line in lines) + "connection: close\r\n\r\n"
    return data.encode("utf-8")


def send(target: Target, path: str, headers: Sequence[tuple[str, str]] = (), method: str = "GET") -> Result:
    """One request with exactly these bytes on real servers (``Connection: close``: a fresh connection each)."""
    return target.raw(request_bytes(path, headers, method), head=method == "HEAD")


def own_headers(r: Result) -> list[tuple[str, str]]:
    """The app's headers in wire order (servers' own removed)."""
    return [(k, v) for k, v in r.headers if k not in SERVER_HEADERS]


def assert_no_secret(r: Result) -> None:
    assert site.SECRET not in r.body, r
    assert not any(site.SECRET.decode() in v for _, v in r.headers), r


def assert_still_serving(target: Target) -> None:
    r = send(target, "/static/hello.txt")
    assert (r.status, r.body) == (200, site.HELLO), r


def file_headers(data: bytes, ctype: str, *, cache: str = NO_CACHE, extra: Sequence[tuple[str, str]] = (),
                 length: int | None = None, suffix: str = "") -> list[tuple[str, str]]:  # fmt: skip
    """STATIC.md §8: 200/206 headers in this order."""
    return [
        ("content-type", ctype),
        ("content-length", str(len(data) if length is None else length)),
        ("etag", etag(data, suffix)),
        ("last-modified", LAST_MODIFIED),
        ("cache-control", cache),
        ("accept-ranges", "bytes"),
        *extra,
    ]


# -- traversal and refused names (rows 1-10) ---------------------------------------------------------------

LONG_PATH = "a" * 5000  # longer than PATH_MAX (4096)
LONG_NAME = "b" * 300  # longer than NAME_MAX (255)

# (row, path after "/static/" exactly as sent). All must answer exactly like a missing file.
REFUSED = [
    pytest.param(2, "%2e%2e/%2e%2e/etc/passwd", id="pct2e-etc"),
    pytest.param(2, "%2e%2e/secret.txt", id="pct2e"),
    pytest.param(2, "%2E%2E/secret.txt", id="pct2E"),
    pytest.param(2, ".%2e/secret.txt", id="dot-pct2e"),
    pytest.param(2, "%2e/hello.txt", id="pct-single-dot"),
    pytest.param(2, "...", id="three-dots"),
    pytest.param(2, "hello.txt.", id="trailing-dot"),
    pytest.param(2, "hello.txt%20", id="trailing-space"),
    pytest.param(3, "..%2fsecret.txt", id="pct2f"),
    pytest.param(3, "a%2f..%2f..%2fx", id="a-pct2f-x"),
    pytest.param(3, "a%2f..%2f..%2fsecret.txt", id="a-pct2f-secret"),
    pytest.param(3, "sub%2f..%2f..%2fsecret.txt", id="sub-pct2f-secret"),
    pytest.param(4, "..%5csecret.txt", id="pct5c"),
    pytest.param(4, "..\\secret.txt", id="backslash-raw"),
    pytest.param(4, "\\\\attacker\\share", id="unc-raw"),
    pytest.param(4, "%5c%5cattacker%5cshare", id="unc-pct5c"),
    pytest.param(5, "%2e%2e/static_disallow/x", id="sibling-dir-pct"),
    pytest.param(5, "%2e%2e/static1.txt", id="sibling-file-pct"),
    pytest.param(6, "link_out.txt", id="symlink-out"),
    pytest.param(6, "link_pub.txt", id="symlink-out-public"),
    pytest.param(6, "outdir/x", id="dir-symlink-out"),
    pytest.param(6, "dangling", id="dangling-symlink"),
    pytest.param(6, "loop_a", id="symlink-loop"),
    pytest.param(6, "self_loop", id="symlink-self-loop"),
    pytest.param(6, "loop_a/x", id="symlink-loop-as-dir"),
    pytest.param(7, "/etc/passwd", id="double-slash"),
    pytest.param(7, "%2fetc%2fpasswd", id="pct2f-absolute"),
    pytest.param(7, "C:%5cwindows%5cwin.ini", id="drive-pct5c"),
    pytest.param(7, "C:\\windows\\win.ini", id="drive-raw"),
    pytest.param(7, "C:/windows/win.ini", id="drive-slash"),
    pytest.param(7, "hello.txt:stream", id="ads"),
    pytest.param(8, "CON", id="CON"),
    pytest.param(8, "NUL.txt", id="NUL.txt"),
    pytest.param(8, "CON.txt.html", id="CON.txt.html"),
    pytest.param(8, "CON%20%20", id="CON-spaces"),
    pytest.param(8, "a/AUX", id="a-AUX"),
    pytest.param(8, "COM%C2%B9", id="COM-superscript"),
    pytest.param(9, "a%00.txt", id="nul"),
    pytest.param(9, "hello.txt%00", id="nul-suffix"),
    pytest.param(9, "hello%01.txt", id="control"),
    pytest.param(9, LONG_PATH, id="path-max"),
    pytest.param(9, LONG_NAME, id="name-max"),
    pytest.param(9, "x.txt/y", id="file-as-dir"),
    pytest.param(9, "hello.txt/", id="trailing-slash"),
    pytest.param(9, "sub", id="directory"),
    pytest.param(9, "sub/", id="directory-slash"),
    pytest.param(9, "", id="root"),
]

# Literal dot segments: httpx removes them, so only a raw socket to a real server can send these.
REFUSED_RAW = [
    pytest.param(1, "../secret.txt", id="dotdot-raw"),
    pytest.param(1, "../../../../etc/passwd", id="dotdot-etc-raw"),
    pytest.param(2, "./hello.txt", id="single-dot-raw"),
    pytest.param(2, "sub/../hello.txt", id="sub-dotdot-raw"),
    pytest.param(5, "../static_disallow/x", id="sibling-dir-raw"),
    pytest.param(5, "../static1.txt", id="sibling-file-raw"),
]


def _check_probe(target: Target, rest: str) -> None:
    """The input reaches the app decoded once and not normalised (else the case would test nothing)."""
    probe = send(target, "/probe/" + rest)
    assert (probe.status, probe.body) == (200, ("/probe/" + unquote(rest)).encode()), probe


def _check_refused(target: Target, ref: Target, url: str, missing_url: str) -> None:
    r = send(target, url)
    assert r.status == 404, r  # never 500, never 200
    assert_no_secret(r)
    assert r.comparable() == send(target, missing_url).comparable(), "refused and missing answers differ"
    assert_same(r, send(ref, missing_url))  # and the same on the reference path
    assert_still_serving(target)  # a fresh connection still works


@pytest.mark.parametrize(("row", "rest"), REFUSED)
def test_refused_path_is_a_plain_404(target: Target, ref: Target, row: int, rest: str) -> None:
    _check_probe(target, rest)
    _check_refused(target, ref, "/static/" + rest, MISSING)


@real_only
@pytest.mark.parametrize(("row", "rest"), REFUSED_RAW)
def test_refused_raw_dot_segments(target: Target, ref: Target, row: int, rest: str) -> None:
    _check_probe(target, rest)
    _check_refused(target, ref, "/static/" + rest, MISSING)


@pytest.mark.parametrize(
    "rest",
    [
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "..%5csecret.txt",
        "%2fetc%2fpasswd",
        "link_out.txt",
        "outdir/x",
        "loop_a",
        "a%00.txt",
        "x.txt/y",
        "CON",
        "C:%5cwindows%5cwin.ini",
        LONG_PATH,
    ],
)
def test_send_from_directory_refuses_the_same_inputs(target: Target, ref: Target, rest: str) -> None:
    _check_refused(target, ref, "/dl/" + rest, "/dl/no-such-file.txt")


@real_only
@pytest.mark.parametrize("url", ["/dl/../secret.txt", "/dl/../../../../etc/passwd", "/dl/./../secret.txt"])
def test_send_from_directory_refuses_raw_dot_segments(target: Target, ref: Target, url: str) -> None:
    _check_refused(target, ref, url, "/dl/no-such-file.txt")


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        pytest.param("../secret.txt", "../nope.txt", id="dotdot-raw"),
        pytest.param("%2e%2e/secret.txt", "%2e%2e/nope.txt", id="pct2e"),
        pytest.param("..%2fstatic1.txt", "..%2fstatic2.txt", id="pct2f"),
        pytest.param("link_out.txt", "dangling", id="symlink"),
        pytest.param("outdir/x", "outdir/nope", id="dir-symlink"),
    ],
)
@real_only  # "../secret.txt" is sent raw; the other pairs are covered on every path by REFUSED
def test_outside_existing_and_missing_are_identical(target: Target, existing: str, missing: str) -> None:
    """Row 10 (aiohttp CVE-2025-69226): nothing tells a prober whether a file exists outside the root."""
    a, b = send(target, "/static/" + existing), send(target, "/static/" + missing)
    assert a.status == 404, a
    assert a.comparable() == b.comparable()


def test_symlinks_inside_the_root_and_follow_opt_in(target: Target, ref: Target) -> None:
    r = send(target, "/static/link_in.txt")  # inside -> inside: followed
    assert (r.status, r.body) == (200, site.HELLO), r
    assert_same(r, send(ref, "/static/link_in.txt"))
    r = send(target, "/follow/link_pub.txt")  # follow_symlinks=True: the opt-in serves it
    assert (r.status, r.body) == (200, site.OUTSIDE_PUBLIC), r
    assert_same(r, send(ref, "/follow/link_pub.txt"))
    for rest in ("%2e%2e/outside_public.txt", "..%2foutside_public.txt", "loop_a", "CON", "a%00.txt"):
        r = send(target, "/follow/" + rest)  # the lexical checks still apply with the opt-in
        assert r.comparable() == send(target, "/follow/no-such-file").comparable(), r
        assert r.status == 404, r


@real_only
def test_follow_opt_in_still_refuses_raw_dotdot(target: Target) -> None:
    r = send(target, "/follow/../outside_public.txt")
    assert r.status == 404, r
    assert site.OUTSIDE_PUBLIC not in r.body


def test_precompressed_symlink_leaving_the_root_is_absent(target: Target, ref: Target) -> None:
    """Row 6: evil.css.gz -> ../secret.txt.gz is ignored (no vary: no valid sibling), the original is sent."""
    r = send(target, "/static/evil.css", [("accept-encoding", "gzip, br")])
    assert r.status == 200, r
    assert r.body == site.EVIL_CSS
    assert own_headers(r) == file_headers(site.EVIL_CSS, "text/css; charset=utf-8"), r
    assert_no_secret(r)
    assert_same(r, send(ref, "/static/evil.css", [("accept-encoding", "gzip, br")]))


# -- prefix, methods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "body"),
    [
        ("/staticfoo", 200, b"app route /staticfoo"),  # "foo" exists in the root: a string prefix would serve it
        ("/static", 404, None),
        ("/static/foo", 200, site.FOO),
    ],
)
def test_prefix_matches_by_segment(target: Target, ref: Target, url: str, status: int, body: bytes | None) -> None:
    r = send(target, url)
    assert r.status == status, r
    if body is not None:
        assert r.body == body
    assert_same(r, send(ref, url))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("url", ["/static/hello.txt", "/static/no-such-file.txt", "/static/%2e%2e/secret.txt"])
def test_other_methods_are_405(target: Target, ref: Target, method: str, url: str) -> None:
    """Method first, before any path check (STATIC.md step 1)."""
    headers = [("content-length", "0")]
    r = send(target, url, headers, method)
    assert r.status == 405, r
    assert r.header_list("allow") == ["GET, HEAD"], r
    assert_no_secret(r)
    assert_same(r, send(ref, url, headers, method))


# -- bodies, HEAD --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/static/big.bin", "/dl/big.bin"])
def test_one_mebibyte_byte_exact(target: Target, ref: Target, url: str) -> None:
    r = send(target, url)
    assert r.status == 200, r
    assert r.header("content-length") == str(SIZE)
    assert r.body == site.BIG
    assert_same(r, send(ref, url))


def test_fixed_files(target: Target, ref: Target) -> None:
    cases = [
        ("/static/hello.txt", site.HELLO, TEXT, NO_CACHE),
        ("/static/empty.txt", b"", TEXT, NO_CACHE),
        ("/static/app.3f9a1c2b.js", site.JS, "text/javascript; charset=utf-8", IMMUTABLE),
        ("/static/report-20240101.pdf", site.PDF, "application/pdf", NO_CACHE),
        ("/static/sub/inner.txt", b"inner\n", TEXT, NO_CACHE),
    ]
    for url, data, ctype, cache in cases:
        r = send(target, url)
        assert (r.status, r.body) == (200, data), r
        assert own_headers(r) == file_headers(data, ctype, cache=cache), r
        assert_same(r, send(ref, url))


def _read_to_eof(target: ServerTarget, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=5.0) as sock:
        sock.sendall(data)
        out = bytearray()
        while chunk := sock.recv(65536):
            out += chunk
    return bytes(out)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/static/hello.txt", []),
        ("/static/empty.txt", []),
        ("/static/big.bin", []),
        ("/static/big.bin", [("range", "bytes=5-9")]),
        ("/static/app.css", [("accept-encoding", "br")]),
        ("/dl/big.bin", []),
    ],
)
def test_head_is_get_without_body(target: Target, ref: Target, url: str, headers: list[tuple[str, str]]) -> None:
    get = send(target, url, headers)
    head = send(target, url, headers, "HEAD")
    assert head.status == get.status
    assert head.body == b""
    assert head.comparable()[1] == get.comparable()[1], "HEAD headers differ from GET (content-length included)"
    assert_same(head, send(ref, url, headers, "HEAD"))
    if isinstance(target, ServerTarget):  # on the wire: nothing after the header block
        wire = _read_to_eof(target, request_bytes(url, headers, "HEAD"))
        assert wire.endswith(b"\r\n\r\n") and wire.count(b"\r\n\r\n") == 1, wire[-200:]


# -- Range (row 11) ------------------------------------------------------------------------------------------

# 5,000 ranges in under 16 KiB (the framework's default cap for one header line answers 431 above it).
MANY_RANGES = "bytes=" + ",".join(["-1"] * 5000)
MANY_DISTINCT_RANGES = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 3000, 2))  # 1,500 ranges, ~11 KB


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=1000-1999", 1000, 2000),
        ("bytes=123457-987653", 123457, 987654),
        (f"bytes={SIZE - 576}-", SIZE - 576, SIZE),
        ("bytes=-500", SIZE - 500, SIZE),
        (f"bytes=-{SIZE * 2}", 0, SIZE),
        ("bytes=0-99999999999", 0, SIZE),
        ("bytes=0-18446744073709551616", 0, SIZE),  # saturates at 2^64-1
        ("BYTES=5-9", 5, 10),
        ("bytes=,5-9,", 5, 10),  # empty items are skipped: one range
    ],
)
@pytest.mark.parametrize("url", ["/static/big.bin", "/dl/big.bin"])
def test_single_range_is_206(target: Target, ref: Target, url: str, value: str, start: int, end: int) -> None:
    r = send(target, url, [("range", value)])
    assert r.status == 206, r
    assert r.body == site.BIG[start:end]
    assert r.header("content-range") == f"bytes {start}-{end - 1}/{SIZE}", r
    assert r.header("content-length") == str(end - start), r
    if url.startswith("/static/"):
        extra = [("content-range", f"bytes {start}-{end - 1}/{SIZE}")]
        assert own_headers(r) == file_headers(site.BIG, "application/octet-stream", extra=extra, length=end - start)
    assert_same(r, send(ref, url, [("range", value)]))


IGNORED_RANGES = [
    pytest.param(MANY_RANGES, id="5000-ranges"),
    pytest.param(MANY_DISTINCT_RANGES, id="1500-distinct-ranges"),
    pytest.param("bytes=0-0,2-2", id="two-ranges"),
    pytest.param("bytes: 0-1", id="colon"),
    pytest.param("items=0-1", id="items"),
    pytest.param("bytes=3-1", id="reversed"),
    pytest.param("bytes=", id="empty-set"),
    pytest.param("bytes=-", id="dash"),
    pytest.param("bytes=a-b", id="letters"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("value", IGNORED_RANGES)
def test_malformed_or_multiple_ranges_give_the_full_body(target: Target, ref: Target, value: str) -> None:
    """STATIC.md §7: ignored (200 full), never 400 or multipart; parsed in linear time."""
    t0 = time.perf_counter()
    r = send(target, "/static/hello.txt", [("range", value)])
    elapsed = time.perf_counter() - t0
    assert r.status == 200, r
    assert r.body == site.HELLO
    assert own_headers(r) == file_headers(site.HELLO, TEXT), r
    assert elapsed < 2.0, f"{elapsed:.2f}s for one 200 answer"  # generous: a quadratic parse takes far longer
    assert_same(r, send(ref, "/static/hello.txt", [("range", value)]))


def test_range_header_over_the_line_cap_is_431_not_500(target: Target, ref: Target) -> None:
    """5,000 distinct ranges take ~48 KB: over the 16 KiB header-line cap, answered 431 by the framework."""
    value = "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(5000))
    r = send(target, "/static/hello.txt", [("range", value)])
    assert r.status == 431, r
    assert_same(r, send(ref, "/static/hello.txt", [("range", value)]))
    assert_still_serving(target)


@real_only  # httpx only sends ASCII header values
def test_non_ascii_digit_range_gives_the_full_body(target: Target, ref: Target) -> None:
    r = send(target, "/static/hello.txt", [("range", "bytes=\u00b9-2")])
    assert (r.status, r.body) == (200, site.HELLO), r
    assert own_headers(r) == file_headers(site.HELLO, TEXT), r
    assert_same(r, send(ref, "/static/hello.txt"))


@pytest.mark.parametrize(
    ("url", "value", "size"),
    [
        ("/static/hello.txt", "bytes=999999-", len(site.HELLO)),
        ("/static/hello.txt", "bytes=14-", len(site.HELLO)),
        ("/static/hello.txt", "bytes=14-20", len(site.HELLO)),
        ("/static/hello.txt", "bytes=-0", len(site.HELLO)),
        ("/static/big.bin", f"bytes={SIZE}-", SIZE),
        ("/static/empty.txt", "bytes=0-0", 0),
        ("/static/empty.txt", "bytes=-5", 0),
        ("/dl/big.bin", "bytes=99999999-", SIZE),
    ],
)
def test_unsatisfiable_range_is_416(target: Target, ref: Target, url: str, value: str, size: int) -> None:
    r = send(target, url, [("range", value)])
    assert r.status == 416, r
    assert r.body == b""
    if url.startswith("/static/"):  # STATIC.md: content-range only; content-length: 0 frames the empty body
        assert sorted(own_headers(r)) == [("content-length", "0"), ("content-range", f"bytes */{size}")], r
    else:  # FileResponse keeps its own headers (content-type) on top of the resolver's
        assert r.header("content-range") == f"bytes */{size}", r
    assert_same(r, send(ref, url, [("range", value)]))


# -- conditionals --------------------------------------------------------------------------------------------

HELLO_ETAG = etag(site.HELLO)
WEAK = "W/" + HELLO_ETAG


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("if-none-match", HELLO_ETAG)], 304),
        ([("if-none-match", WEAK)], 304),  # weak comparison
        ([("if-none-match", f'"other", {HELLO_ETAG}')], 304),
        ([("if-none-match", f'"other",\t{WEAK} ')], 304),
        ([("if-none-match", "*")], 304),
        ([("if-none-match", '"other"')], 200),
        ([("if-none-match", HELLO_ETAG + "x")], 200),
        ([("if-modified-since", LAST_MODIFIED)], 304),
        ([("if-modified-since", "Wed, 01 Jan 2025 00:00:00 GMT")], 304),
        ([("if-modified-since", "Tue, 02 Jan 2024 03:04:04 GMT")], 200),
        ([("if-modified-since", "Tuesday, 02-Jan-24 03:04:05 GMT")], 304),  # RFC 850
        ([("if-modified-since", "Tue Jan  2 03:04:05 2024")], 304),  # asctime
        ([("if-modified-since", "yesterday")], 200),
        ([("if-none-match", '"other"'), ("if-modified-since", LAST_MODIFIED)], 200),  # INM wins over IMS
        ([("if-none-match", HELLO_ETAG), ("range", "bytes=0-0")], 304),  # conditionals beat Range
        ([("if-modified-since", LAST_MODIFIED), ("range", "bytes=0-0")], 304),
    ],
    ids=lambda v: v if isinstance(v, int) else " + ".join(f"{k}={w}" for k, w in v),
)
def test_conditionals(target: Target, ref: Target, headers: list[tuple[str, str]], status: int) -> None:
    r = send(target, "/static/hello.txt", headers)
    assert r.status == status, r
    if status == 304:
        assert r.body == b""
        assert own_headers(r) == [("etag", HELLO_ETAG), ("cache-control", NO_CACHE)], r
    else:
        assert r.body == site.HELLO
        assert own_headers(r) == file_headers(site.HELLO, TEXT), r
    assert_same(r, send(ref, "/static/hello.txt", headers))


def test_get_then_revalidate_with_the_served_validators(target: Target, ref: Target) -> None:
    for url, data in (("/static/big.bin", site.BIG), ("/static/app.3f9a1c2b.js", site.JS)):
        first = send(target, url)
        assert (first.status, first.body) == (200, data), first
        tag, modified = first.header("etag"), first.header("last-modified")
        assert (tag, modified) == (etag(data), LAST_MODIFIED)
        for headers in ([("if-none-match", tag)], [("if-modified-since", modified)]):
            r = send(target, url, headers)  # type: ignore[list-item]
            assert (r.status, r.body) == (304, b""), r
            assert_same(r, send(ref, url, headers))  # type: ignore[arg-type]


# -- precompressed siblings ----------------------------------------------------------------------------------

ENCODED = {"br": (site.CSS_BR, "-br"), "gzip": (site.CSS_GZ, "-gz"), None: (site.CSS, "")}
CSS_TYPE = "text/css; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, br", "br"),
        ("br", "br"),
        ("br;q=0.5, gzip;q=1", "br"),  # br whenever allowed (STATIC.md §4), not by q order
        ("*", "br"),
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0, *", "gzip"),
        ("gzip;q=0.001", "gzip"),
        ("identity", None),
        ("*;q=0", None),
        ("gzip;q=abc", None),  # invalid q: the entry is ignored
        ("gzip;q=1.5", None),
        ("", None),
    ],
)
def test_precompressed_sibling(target: Target, ref: Target, accept: str, coding: str | None) -> None:
    data, suffix = ENCODED[coding]
    r = send(target, "/static/app.css", [("accept-encoding", accept)])
    assert r.status == 200, r
    extra = [("vary", "accept-encoding")] + ([("content-encoding", coding)] if coding else [])
    assert own_headers(r) == file_headers(data, CSS_TYPE, extra=extra, suffix=suffix), r
    if target.real:
        assert r.body == data  # raw socket: the sibling's bytes as stored
    else:
        assert r.body in (data, site.CSS)  # httpx decodes content-encoding it knows (gzip; br with brotli)
    # A real server's raw body and httpx's decoded body differ only for an encoded answer; headers must match.
    assert_same(r, send(ref, "/static/app.css", [("accept-encoding", accept)]), body=not (target.real and coding))


@real_only  # in-process clients (httpx) try to decode a partial br/gzip body
@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_range_applies_to_the_encoded_bytes(target: Target, coding: str) -> None:
    data, suffix = ENCODED[coding]
    r = send(target, "/static/app.css", [("accept-encoding", coding), ("range", "bytes=3-12")])
    assert r.status == 206, r
    assert r.body == data[3:13]
    assert r.header("content-range") == f"bytes 3-12/{len(data)}", r
    assert r.header("content-encoding") == coding
    assert r.header("etag") == etag(data, suffix)


def test_vary_on_304_and_without_siblings(target: Target, ref: Target) -> None:
    tag = etag(site.CSS_BR, "-br")
    r = send(target, "/static/app.css", [("accept-encoding", "br"), ("if-none-match", tag)])
    assert r.status == 304, r
    assert own_headers(r) == [("etag", tag), ("cache-control", NO_CACHE), ("vary", "accept-encoding")], r
    assert_same(r, send(ref, "/static/app.css", [("accept-encoding", "br"), ("if-none-match", tag)]))
    r = send(target, "/static/app.css", [("accept-encoding", "gzip"), ("if-none-match", tag)])
    assert r.status == 200, r  # the gzip variant has its own ETag
    r = send(target, "/static/hello.txt", [("accept-encoding", "gzip, br")])
    assert r.header("vary") is None and r.header("content-encoding") is None, r


# -- preconditions (RFC 9110 §13.2.2; issue 11 item 2) ------------------------------------------------------

BIG_ETAG = etag(site.BIG)
EARLIER = "Tue, 02 Jan 2024 03:04:04 GMT"


@pytest.mark.parametrize("url", ["/static/big.bin", "/dl/big.bin"])
@pytest.mark.parametrize(
    ("headers", "status", "span"),
    [
        # If-Range names another representation: the Range is ignored, the whole file is sent (was 206).
        ([("range", "bytes=0-4"), ("if-range", '"other-tag"')], 200, None),
        ([("range", "bytes=0-4"), ("if-range", BIG_ETAG)], 206, (0, 5)),
        ([("range", "bytes=0-4"), ("if-range", "W/" + BIG_ETAG)], 200, None),  # strong comparison only
        ([("range", "bytes=10-"), ("if-range", LAST_MODIFIED)], 206, (10, SIZE)),
        ([("range", "bytes=10-"), ("if-range", EARLIER)], 200, None),
        ([("range", "bytes=10-"), ("if-range", "not a validator")], 200, None),
        ([("range", f"bytes={SIZE}-"), ("if-range", '"other-tag"')], 200, None),  # not even a 416
        ([("if-range", '"other-tag"')], 200, None),  # no Range: nothing to do
        ([("if-match", BIG_ETAG)], 200, None),
        ([("if-match", f'"x", {BIG_ETAG}')], 200, None),
        ([("if-match", "*")], 200, None),
        ([("if-match", '"other-tag"')], 412, None),
        ([("if-match", "W/" + BIG_ETAG)], 412, None),  # strong comparison only
        ([("if-match", BIG_ETAG), ("range", "bytes=0-0")], 206, (0, 1)),
        ([("if-unmodified-since", LAST_MODIFIED)], 200, None),
        ([("if-unmodified-since", EARLIER)], 412, None),
        ([("if-unmodified-since", "yesterday")], 200, None),  # not a date: ignored
        ([("if-match", BIG_ETAG), ("if-unmodified-since", EARLIER)], 200, None),  # If-Match wins
        ([("if-match", '"other-tag"'), ("if-none-match", BIG_ETAG)], 412, None),  # 412 before 304
        ([("if-unmodified-since", EARLIER), ("if-modified-since", LAST_MODIFIED)], 412, None),
        ([("if-match", BIG_ETAG), ("if-none-match", BIG_ETAG)], 304, None),
        ([("if-none-match", BIG_ETAG), ("range", "bytes=0-4"), ("if-range", '"other-tag"')], 304, None),
    ],
    ids=lambda v: (
        v if isinstance(v, int) else " + ".join(f"{k}={w[:20]}" for k, w in v) if isinstance(v, list) else str(v)
    ),
)
def test_preconditions(
    target: Target, ref: Target, url: str, headers: list[tuple[str, str]], status: int, span: tuple[int, int] | None
) -> None:
    r = send(target, url, headers)
    assert r.status == status, r
    if status == 200:
        assert r.body == site.BIG
        assert r.header("content-length") == str(SIZE) and r.header("content-range") is None, r
    elif status == 206:
        assert span is not None
        assert r.body == site.BIG[span[0] : span[1]]
        assert r.header("content-range") == f"bytes {span[0]}-{span[1] - 1}/{SIZE}", r
    else:
        assert r.body == b""
    if status == 412 and url.startswith("/static/"):
        assert own_headers(r) == [("content-length", "0")], r  # nothing about the file
    assert_same(r, send(ref, url, headers))


def test_precondition_failed_on_an_encoded_variant_varies(target: Target, ref: Target) -> None:
    """If-Match names the identity variant; the client asked for br: 412, and the answer depends on the coding."""
    headers = [("accept-encoding", "br"), ("if-match", etag(site.CSS))]
    r = send(target, "/static/app.css", headers)
    assert r.status == 412, r
    assert sorted(own_headers(r)) == [("content-length", "0"), ("vary", "accept-encoding")], r
    assert_same(r, send(ref, "/static/app.css", headers))
    ok = send(target, "/static/app.css", [("accept-encoding", "br"), ("if-match", etag(site.CSS_BR, "-br"))])
    assert ok.status == 200, ok
