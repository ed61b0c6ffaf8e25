"""Request bodies, forms, uploads and request caps over every path: docs/hardening.md rows 12–28, the 50 MB upload
next to ``/health`` (row 25), and Struct handlers obeying the body limit.

Every request goes through ``target.raw`` (a raw socket on real servers: exact bytes, exact framing) with
``Connection: close``. Cases where the answer must come *before* the body has been sent (rows 12, 13, 20) use
:func:`send_early` on real servers: the request is never completed, so any answer at all proves the app refused
it while it streamed; the in-process paths send the whole body and must give the same answer.

Pinned outcomes (the app is ``apps/bodies.py``; every 4xx is ``application/problem+json`` with no traceback, and
the next request on a fresh connection succeeds):

- 12: ``Content-Length`` over the limit (default 10 MiB, route, blueprint, per request): 413 before a byte of
  body is read. At the limit: 200.
- 13: a chunked body growing past the limit: 413 once the count passes it; the server's RSS stays bounded.
- 14: JSON nested deeper than 128 levels (``[`` × 100,000, 5,000 balanced levels; plain or into a Struct): 400,
  whatever the interpreter. 15: ``{"a":"\\xff"}``: 400.
- 16: ``request.json()`` / a Struct parameter: ``text/plain``, ``application/jsonx``, no Content-Type: 415 and
  the body is not parsed (invalid JSON still gives 415). ``application/json; charset=latin-1``: accepted (200);
  JSON has no charset parameter (RFC 8259 §11: it "has no effect"), the body is always decoded as UTF-8, so a
  non-UTF-8 byte is a 400. ``application/*+json``: accepted.
- 17: type mismatch / wrong nested type: 422 naming the path (``$.age``, ``$.address.zip``); missing field: 422
  naming the field (path ``$``); ``1``×5000 without a model: 400 (msgspec: integer out of range); ``NaN``,
  trailing junk, empty body, a UTF-8 BOM: 400. Never 500.
- 18: duplicate keys: the last one wins (msgspec), for plain JSON and Structs.
- 19: 1,001 fields, 1,001 files, 10,000 × 100-byte parts: 400 (the part caps answer 400, not 413); 1,000: 200.
- 20: one 10 MB text field: 400 once the 1 MiB part cap is passed, before the rest is sent.
- 21: 10 MB of CRLF before the first boundary, junk after the last: ignored (200), linear.
- 22: a quoted boundary of 8,000 backslashes (the ReDoS shape), a 10 KB boundary: 400.
- 23: no boundary: 400; a part without ``name``: 400; a nested ``multipart/mixed`` part: an opaque text field,
  never parsed (200); ``Content-Transfer-Encoding: base64`` is ignored (RFC 7578 §4.7), the value kept as sent.
- 24: the exposed ``filename`` is a display-only basename, files are saved under generated names, ``filename*``
  and ``name*`` are ignored.
- 25: a 50 MB upload (route limit 64 MiB) while ``/health`` is polled: the upload completes, RSS growth of the
  server stays under 30 MB, /health p99 stays within 20× its idle p99 (real servers).
- 26: urlencoded 10,000 fields, a 2 MB key or value: 400. Every field arrives, in order (empty values, ``+``,
  percent escapes, a last field after an empty one), whole or in chunks, with every allowed Starlette.
- 27: 10,000 query parameters: 400 from our cap (Granian may answer 414 itself first), 1,000: 200.
- 28: a 100 KB header, 10,000 headers, a 50 KB ``Accept-Language``, a 64 KB ``Cookie``, 301 cookies: 431 (from
  our caps, or from the server's own where it has one: Granian).
- Struct handlers: decoded after middleware and limits: a body over the route's or ``LimitsMiddleware``'s limit
  is a 413 (not 422/200), and a middleware refusing the request wins over an undecodable body.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from compat_tests.harness import HOST, Result, ServerTarget, Target, assert_same

APP = "bodies:app"

real_only = pytest.mark.real_servers_only
PROBLEM = "application/problem+json"
JSON_CT = "application/json"
B = "XyZb0und"
MULTIPART = f"multipart/form-data; boundary={B}"
URLENC = "application/x-www-form-urlencoded"
MiB = 1024 * 1024


# -- request building and sending -----------------------------------------------------------------------------


def build(
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    content_length: int | None = None,
) -> bytes:
    """Exact request bytes: default headers, the given ones, Content-Length (of ``body`` unless given or chunked),
    ``Connection: close``."""
    given = {k.lower() for k, _ in headers}
    base = {"host": HOST, "user-agent": "compat-tests", "accept": "*/*", "accept-encoding": "identity"}
    lines = [f"{k}: {v}" for k, v in base.items() if k not in given] + [f"{k}: {v}" for k, v in headers]
    if "transfer-encoding" not in given and "content-length" not in given and (body or method == "POST"):
        lines.append(f"content-length: {len(body) if content_length is None else content_length}")
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in lines) + "connection: close\r\n\r\n"
    return head.encode("latin-1") + body


def send(target: Target, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Result:
    return target.raw(build(method, path, headers, body))


def post(
    target: Target, path: str, body: bytes, ctype: str | None = JSON_CT, headers: Sequence[tuple[str, str]] = ()
) -> Result:
    return send(target, "POST", path, ([("content-type", ctype)] if ctype else []) + list(headers), body)


def part(name: str, value: bytes, filename: str | None = None, extra: str = "") -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{B}\r\nContent-Disposition: {disp}\r\n{extra}\r\n".encode() + value + b"\r\n"


def multipart(parts: Iterable[bytes], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    return preamble + b"".join(parts) + f"--{B}--\r\n".encode() + epilogue


def read_response(sock: socket.socket) -> tuple[int, list[tuple[str, str]], bytes]:
    """One response from a socket (content-length or read-to-close); status 0 when the server sent nothing."""
    buf = bytearray()
    try:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
    if not sep:
        return 0, [], bytes(buf)
    lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    body = bytearray(rest)
    length = next((int(v) for k, v in headers if k == "content-length"), None)
    try:
        while length is None or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return int(lines[0].split(" ", 2)[1]), headers, bytes(body[:length] if length is not None else body)


def send_early(target: ServerTarget, head: bytes, chunks: Iterable[bytes], wait: float = 0.05) -> tuple[Result, int]:
    """Send ``head``, then ``chunks`` one at a time, stopping as soon as the server answers (the request is never
    completed by the caller). Returns the answer and how many body bytes were sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], wait)[0]:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, headers, body = read_response(sock)
    return Result(target.name, status, headers, body), sent


def chunked(data_chunks: Iterable[bytes]) -> Iterable[bytes]:
    for c in data_chunks:
        yield f"{len(c):x}\r\n".encode() + c + b"\r\n"


# -- assertions -------------------------------------------------------------------------------------------------


def assert_problem(r: Result, status: int) -> dict[str, Any]:
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM, r
    assert b"Traceback" not in r.body and b'File "' not in r.body, r
    doc = r.json()
    assert doc["status"] == status, doc
    return doc


def assert_ok(r: Result) -> Any:
    assert r.status == 200, r
    assert r.header("content-type") == JSON_CT, r
    return r.json()


def assert_alive(target: Target) -> None:
    """The next request on a fresh connection succeeds."""
    r = send(target, "GET", "/health")
    assert (r.status, r.body) == (200, b"ok"), r


def check(
    target: Target, ref: Target, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> Result:
    """Send on ``target`` and on ``ref``; the answers must be identical."""
    r = send(target, method, path, headers, body)
    assert_same(r, send(ref, method, path, headers, body))
    return r


def post_check(
    target: Target,
    ref: Target,
    path: str,
    body: bytes,
    ctype: str | None = JSON_CT,
    headers: Sequence[tuple[str, str]] = (),
) -> Result:
    return check(target, ref, "POST", path, ([("content-type", ctype)] if ctype else []) + list(headers), body)


# -- process memory (real servers) -----------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Granian runs its worker as a child of the main process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# == rows 12, 13: body limits while streaming ======================================================================


def test_row12_content_length_over_limit_is_413_before_the_body(target: Target, ref: Target) -> None:
    """Row 12: ``Content-Length`` above the limit is a 413 before any body byte is read: on real servers the body
    is never sent at all. Limits: the app default (10 MiB), a route (1 KiB), a blueprint (32 B)."""
    cases = [("/echo", 10 * MiB + 1), ("/small", 1025), ("/tight/echo", 33)]
    for path, size in cases:
        expected = post(ref, path, b"x" * size, "application/octet-stream")
        assert_problem(expected, 413)
        if isinstance(target, ServerTarget):
            head = build("POST", path, [("content-type", "application/octet-stream")], content_length=size)
            got, sent = send_early(target, head, [])
            assert sent == 0
        else:
            got = post(target, path, b"x" * size, "application/octet-stream")
        assert_same(got, expected)
    # At the limit is fine.
    assert assert_ok(post_check(target, ref, "/small", b"x" * 1024, "application/octet-stream")) == {"len": 1024}
    assert assert_ok(post_check(target, ref, "/tight/echo", b"x" * 32, "application/octet-stream")) == {"len": 32}
    assert_alive(target)


def test_row12_per_request_limit(target: Target, ref: Target) -> None:
    """Row 12: a handler may lower the limit for one request (``request.max_body_bytes = 16``)."""
    assert assert_ok(post_check(target, ref, "/per-request", b"x" * 16, "text/plain")) == {"len": 16}
    assert_problem(post_check(target, ref, "/per-request", b"x" * 17, "text/plain"), 413)
    assert_alive(target)


def test_row13_chunked_body_past_the_limit_is_413_while_streaming(target: Target, ref: Target) -> None:
    """Row 13: a chunked body with no Content-Length: 413 as soon as the count passes the 1 KiB route limit. On
    real servers the body never ends (no last chunk), so an answer at all proves the refusal came mid-stream."""
    expected = ref.request("POST", "/small", content=iter([b"x" * 400] * 4))
    assert_problem(expected, 413)
    if isinstance(target, ServerTarget):
        head = build("POST", "/small", [("transfer-encoding", "chunked")])
        got, sent = send_early(target, head, chunked([b"x" * 400] * 200))
        assert sent < 100 * 400, f"sent {sent} bytes before the answer"
    else:
        got = target.request("POST", "/small", content=iter([b"x" * 400] * 4))
    assert_same(got, expected)
    # Chunked within the limit.
    ok = target.request("POST", "/small", content=iter([b"x" * 512, b"x" * 512]))
    assert assert_ok(ok) == {"len": 1024}
    assert_alive(target)


@real_only
def test_row13_chunked_body_past_the_default_limit_keeps_rss_bounded(target: Target) -> None:
    """Row 13: 1 MiB chunks into the default 10 MiB limit: 413 long before the 40 MiB the client would send, and
    the server's RSS grows by less than 30 MB."""
    assert isinstance(target, ServerTarget) and target.server.proc is not None
    pids = process_tree(target.server.proc.pid)
    assert_alive(target)
    before = rss_bytes(pids)
    head = build("POST", "/echo", [("transfer-encoding", "chunked"), ("content-type", "application/octet-stream")])
    got, sent = send_early(target, head, chunked([b"x" * MiB] * 40), wait=0.0)
    growth = rss_bytes(pids) - before
    assert_problem(got, 413)
    assert sent < 40 * MiB, f"the whole body was sent ({sent} bytes) before any answer"
    assert growth < 30 * MiB, f"RSS grew by {growth / MiB:.1f} MiB"
    assert_alive(target)


# == rows 14–18: JSON ==================================================================================================


def test_row14_deep_nesting_is_400(target: Target, ref: Target) -> None:
    """Row 14: JSON nested deeper than the limit (default 128 levels) is a 400 before msgspec sees it, so the answer
    does not depend on the interpreter's recursion limit (3.13 accepted 5,000 levels, 3.11 refused 1,000): for
    ``request.json()`` and Struct parameters alike (a field of any type recurses as untyped JSON does). Brackets
    inside strings do not count; 128 levels are accepted; ``LimitsMiddleware(max_json_depth=8)`` refuses 9."""
    deep = [
        b"[" * 100_000,
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"[" * 129 + b"]" * 129,
        b'{"value":' + b"[" * 128 + b"]" * 128 + b"}",
    ]
    for body in deep:
        for path in ("/json", "/user", "/any"):
            doc = assert_problem(post_check(target, ref, path, body), 400)
            assert "deeper than 128 levels" in doc["detail"], (path, body[:20], doc)
    assert assert_ok(post_check(target, ref, "/json", b"[" * 128 + b"]" * 128))["value"] is not None
    at_limit = b'{"value":' + b"[" * 127 + b"]" * 127 + b"}"
    assert assert_ok(post_check(target, ref, "/any", at_limit)) == {"kind": "list"}
    in_strings = b'{"value":"\\"' + b"[" * 5000 + b'"}'  # an escaped quote does not end the string
    assert assert_ok(post_check(target, ref, "/any", in_strings)) == {"kind": "str"}
    assert_problem(
        post_check(target, ref, "/guarded/json", b"[" * 9 + b"]" * 9, headers=[("x-token", "let-me-in")]), 400
    )
    assert assert_ok(post_check(target, ref, "/guarded/json", b"[" * 8 + b"]" * 8, headers=[("x-token", "let-me-in")]))
    assert_alive(target)


def test_row15_invalid_utf8_in_a_string_is_400(target: Target, ref: Target) -> None:
    """Row 15: ``{"a":"\\xff"}`` is a 400 (msgspec's UnicodeDecodeError is caught)."""
    assert_problem(post_check(target, ref, "/json", b'{"a":"\xff"}'), 400)
    assert_problem(post_check(target, ref, "/user", b'{"name":"\xff","age":1}'), 400)
    assert_alive(target)


@pytest.mark.parametrize("ctype", ["text/plain", "application/jsonx", None, "multipart/related"])
def test_row16_wrong_or_missing_content_type_is_415(target: Target, ref: Target, ctype: str | None) -> None:
    """Row 16: a JSON-requiring endpoint answers 415 for a non-JSON or missing Content-Type, without parsing the
    body (invalid JSON gives 415 too, not 400)."""
    for path in ("/json", "/role"):
        assert_problem(post_check(target, ref, path, b'{"role":"x"}', ctype), 415)
        assert_problem(post_check(target, ref, path, b"{not json", ctype), 415)
    assert_alive(target)


def test_row16_json_content_types_accepted(target: Target, ref: Target) -> None:
    """Row 16: ``application/json; charset=latin-1`` is accepted (JSON defines no charset; UTF-8 is always used, so
    a Latin-1 byte is a 400), as is ``application/*+json``. ``get_json()`` (Flask's ``force=True``) ignores the
    Content-Type altogether."""
    body = b'{"role":"r"}'
    for ctype in (
        "application/json; charset=latin-1",
        "application/ld+json",
        "application/problem+json",
        "Application/JSON",
    ):
        assert assert_ok(post_check(target, ref, "/json", body, ctype)) == {"value": {"role": "r"}}
    assert_problem(post_check(target, ref, "/json", b'{"a":"caf\xe9"}', "application/json; charset=latin-1"), 400)
    assert assert_ok(post_check(target, ref, "/get-json", body, "text/plain")) == {"value": {"role": "r"}}
    assert_alive(target)


STRUCT_422 = [
    pytest.param(b'{"name":"x","age":"x"}', "$.age", "Expected `int`, got `str`", id="type-mismatch"),
    pytest.param(
        b'{"name":"x","age":1,"address":{"city":"c","zip":"z"}}',
        "$.address.zip",
        "Expected `int`, got `str`",
        id="nested-mismatch",
    ),
    pytest.param(b'{"name":"x"}', "$", "Object missing required field `age`", id="missing-field"),
    pytest.param(
        b'{"name":"x","age":1,"address":{"city":"c"}}',
        "$.address",
        "Object missing required field `zip`",
        id="missing-nested",
    ),
    pytest.param(b"1" * 5000, "$", "Number out of range", id="5000-digits"),
    pytest.param(b"[]", "$", "Expected `object`, got `array`", id="array"),
]


@pytest.mark.parametrize(("body", "loc", "msg"), STRUCT_422)
def test_row17_struct_mismatch_is_422_with_the_field_path(
    target: Target, ref: Target, body: bytes, loc: str, msg: str
) -> None:
    """Row 17: a body that is JSON but does not fit the Struct is a 422 problem naming the path and the reason."""
    doc = assert_problem(post_check(target, ref, "/user", body), 422)
    assert doc["errors"] == [{"loc": loc, "msg": msg}], doc
    assert_alive(target)


@pytest.mark.parametrize(
    "body",
    [b"NaN", b'{"name":"x","age":1} junk', b"", b'\xef\xbb\xbf{"name":"x","age":1}', b'{"name":"x",', b"nul\x00"],
    ids=["NaN", "trailing-junk", "empty", "bom", "truncated", "nul"],
)
def test_row17_undecodable_json_is_400(target: Target, ref: Target, body: bytes) -> None:
    """Row 17: not JSON at all (``NaN``, trailing junk, empty body, a UTF-8 BOM, truncated): 400, never 500, on
    ``request.json()`` and on a Struct parameter."""
    for path in ("/json", "/user"):
        assert_problem(post_check(target, ref, path, body), 400)
    assert_alive(target)


def test_row17_untyped_huge_integer_and_form_struct(target: Target, ref: Target) -> None:
    """Row 17: ``1``×5000 without a model is a 400 (msgspec's untyped decoder refuses the integer: malformed
    input, not a model mismatch); a Struct from form fields names the field."""
    doc = assert_problem(post_check(target, ref, "/json", b"1" * 5000), 400)
    assert "out of range" in doc["detail"]
    doc = assert_problem(post_check(target, ref, "/user", b"name=a&age=x", URLENC), 422)
    assert doc["errors"] == [{"loc": "$.age", "msg": "Expected `int`, got `str`"}]
    assert assert_ok(post_check(target, ref, "/user", b"name=a&age=7", URLENC)) == {"name": "a", "age": 7, "city": None}
    assert_alive(target)


def test_row18_duplicate_keys_last_wins(target: Target, ref: Target) -> None:
    """Row 18: ``{"role":"user","role":"admin"}``: the last key wins (msgspec), pinned for plain JSON and Structs."""
    body = b'{"role":"user","role":"admin"}'
    assert assert_ok(post_check(target, ref, "/role", body)) == {"role": "admin"}
    assert assert_ok(post_check(target, ref, "/json", body)) == {"value": {"role": "admin"}}
    assert_alive(target)


# == Struct handlers and limits ================================================================================


def test_struct_handler_obeys_the_route_limit(target: Target, ref: Target) -> None:
    """A request too large for a Struct handler is refused by the limit (413), not decoded (the reference decoded
    before limits); a valid small one is decoded."""
    big = b'{"name":"' + b"x" * 1000 + b'","age":1}'
    assert_problem(post_check(target, ref, "/user-small", big), 413)
    assert_problem(post_check(target, ref, "/user-small", b'{"name":"' + b"x" * 300 + b'"'), 413)  # not 400
    assert assert_ok(post_check(target, ref, "/user-small", b'{"name":"n","age":1}')) == {"name": "n"}
    if isinstance(target, ServerTarget):
        head = build("POST", "/user-small", [("content-type", JSON_CT)], content_length=len(big))
        got, sent = send_early(target, head, [])
        assert_problem(got, 413)
    assert_alive(target)


def test_struct_handler_runs_after_middleware_and_limits_middleware(target: Target, ref: Target) -> None:
    """The Struct is decoded inside the middleware chain: a middleware refusing the request (401) wins over an
    undecodable body, and ``LimitsMiddleware(max_body_bytes=128)`` refuses a larger body with 413."""
    r = post_check(target, ref, "/guarded/user", b"{garbage")
    assert (r.status, r.body) == (401, b"no token"), r
    token = [("x-token", "let-me-in")]
    big = b'{"name":"' + b"x" * 200 + b'","age":1}'
    assert_problem(post_check(target, ref, "/guarded/user", big, headers=token), 413)
    assert_problem(post_check(target, ref, "/guarded/user", b"{garbage", headers=token), 400)
    assert assert_ok(post_check(target, ref, "/guarded/user", b'{"name":"n","age":1}', headers=token)) == {"name": "n"}
    assert_alive(target)


# == rows 19–24, 26: forms and multipart =========================================================================


def test_row19_part_caps_are_400(target: Target, ref: Target) -> None:
    """Row 19: 1,001 fields, 1,001 files and 10,000 × 100-byte parts (1.3 MB, inside the body limit) are 400 at
    the part cap; 1,000 fields or files are fine."""
    doc = assert_ok(
        post_check(target, ref, "/multipart", multipart(part(f"f{i}", b"1") for i in range(1000)), MULTIPART)
    )
    assert doc["nfields"] == 1000
    doc = assert_problem(
        post_check(target, ref, "/multipart", multipart(part(f"f{i}", b"1") for i in range(1001)), MULTIPART), 400
    )
    assert "Too many fields" in doc["detail"]
    files = multipart(part(f"f{i}", b"1", "a.txt") for i in range(1000))
    assert len(assert_ok(post_check(target, ref, "/multipart", files, MULTIPART))["files"]) == 1000
    files = multipart(part(f"f{i}", b"1", "a.txt") for i in range(1001))
    assert "Too many files" in assert_problem(post_check(target, ref, "/multipart", files, MULTIPART), 400)["detail"]
    many = multipart(part(f"f{i}", b"x" * 100) for i in range(10_000))
    assert_problem(post_check(target, ref, "/multipart", many, MULTIPART), 400)
    assert_alive(target)


def test_row20_ten_megabyte_field_is_400_before_it_is_all_sent(target: Target, ref: Target) -> None:
    """Row 20: one 10 MB text field is a 400 once the 1 MiB part cap is passed. On real servers only the first
    2 MiB (in 64 KiB pieces) are sent before the answer must arrive; a field of exactly 1 MiB is accepted."""
    value = b"x" * 10_000_000
    body = multipart([part("big", value)])
    expected = post(ref, "/multipart", body, MULTIPART)
    doc = assert_problem(expected, 400)
    assert "exceeded maximum size" in doc["detail"]
    if isinstance(target, ServerTarget):
        head = build("POST", "/multipart", [("content-type", MULTIPART)], content_length=len(body))
        pieces = [body[i : i + 64 * 1024] for i in range(0, 2 * MiB, 64 * 1024)]
        got, sent = send_early(target, head, pieces, wait=0.0)
        if got.status == 0:  # answered only once we stopped sending: wait for it on a fresh attempt
            got, sent = send_early(target, head, [*pieces, *([b"x" * 64 * 1024] * 400)], wait=0.01)
        assert sent < len(body), "the whole body was needed before the answer"
    else:
        got = post(target, "/multipart", body, MULTIPART)
    assert_same(got, expected)
    assert (
        assert_ok(post_check(target, ref, "/multipart", multipart([part("big", b"y" * MiB)]), MULTIPART))["nfields"]
        == 1
    )
    assert_alive(target)


def test_row21_preamble_and_epilogue_junk_are_ignored(target: Target, ref: Target) -> None:
    """Row 21: 10 MB of CRLF before the first boundary, or 8 MB of junk after the last, are skipped (200) and the
    form is read as sent."""
    body = multipart([part("a", b"1")], preamble=b"\r\n" * 5_000_000)
    assert assert_ok(post_check(target, ref, "/multipart", body, MULTIPART))["fields"] == {"a": ["1"]}
    body = multipart([part("a", b"1")], epilogue=b"junk" * 2_000_000)
    assert assert_ok(post_check(target, ref, "/multipart", body, MULTIPART))["fields"] == {"a": ["1"]}
    assert_alive(target)


def test_row22_pathological_boundaries_are_400(target: Target, ref: Target) -> None:
    """Row 22: a quoted boundary holding 8,000 backslashes (python-multipart's ReDoS shape, under the 16 KiB header
    cap), a quoted parameter with a backslash run before the boundary, and a 10 KB boundary: 400."""
    body = multipart([part("a", b"1")])
    for ctype in (
        'multipart/form-data; boundary="' + "\\" * 8000 + '"',
        'multipart/form-data; a="' + "\\" * 8000 + "; boundary=" + B,
        "multipart/form-data; boundary=" + "b" * 10_000,
    ):
        assert_problem(post_check(target, ref, "/multipart", body, ctype), 400)
    assert_alive(target)


def test_row23_malformed_multipart(target: Target, ref: Target) -> None:
    """Row 23: no boundary: 400; a part with no ``name``: 400; a nested ``multipart/mixed`` part is one opaque text
    field (never parsed, no file); ``Content-Transfer-Encoding: base64`` is ignored (RFC 7578 §4.7) and 1 MB of
    whitespace is kept as sent, in linear time."""
    body = multipart([part("a", b"1")])
    assert (
        "boundary" in assert_problem(post_check(target, ref, "/multipart", body, "multipart/form-data"), 400)["detail"]
    )
    noname = f"--{B}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--{B}--\r\n".encode()
    assert_problem(post_check(target, ref, "/multipart", noname, MULTIPART), 400)
    inner = b'--inner\r\nContent-Disposition: file; filename="a.txt"\r\n\r\nhi\r\n--inner--\r\n'
    nested = multipart([part("n", inner, extra="Content-Type: multipart/mixed; boundary=inner\r\n")])
    doc = assert_ok(post_check(target, ref, "/multipart", nested, MULTIPART))
    assert doc == {"fields": {"n": [inner.decode()]}, "nfields": 1, "files": {}}
    b64 = multipart([part("b64", b" " * 1_000_000, extra="Content-Transfer-Encoding: base64\r\n")])
    doc = assert_ok(post_check(target, ref, "/multipart", b64, MULTIPART))
    assert doc["fields"]["b64"] == [" " * 1_000_000]
    assert_alive(target)


FILENAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\\\..\\\\x", "x"),
    ("/etc/passwd", "passwd"),
    ("C:\\\\Windows\\\\win.ini", "win.ini"),
    ("a\x01b.txt", "ab.txt"),
    ("..", None),  # a dot-only name is no name at all
    ("", None),
]


def test_row24_client_filenames_are_display_only(target: Target, ref: Target) -> None:
    """Row 24: the exposed filename is the basename of what the client sent (no separators, no control
    characters), files are stored under names the app generates inside its upload directory, ``filename*`` and
    ``name*`` are ignored (a part with only ``filename*`` is a text field)."""
    for sent, shown in FILENAMES:
        doc = assert_ok(post_check(target, ref, "/upload", multipart([part("f", b"data", sent)]), MULTIPART))
        assert doc["files"] == {"f": {"filename": shown, "size": 4, "inside": True}}, (sent, doc)
    both = (
        f'--{B}\r\nContent-Disposition: form-data; name="f"; filename="safe.txt"; '
        f"filename*=utf-8''..%2F..%2Fevil.php\r\n\r\ndata\r\n--{B}--\r\n"
    ).encode()
    doc = assert_ok(post_check(target, ref, "/upload", both, MULTIPART))
    assert doc["files"]["f"]["filename"] == "safe.txt"
    only_star = (
        f'--{B}\r\nContent-Disposition: form-data; name="f"; '
        f"filename*=utf-8''..%2F..%2Fevil.php\r\n\r\ndata\r\n--{B}--\r\n"
    ).encode()
    assert assert_ok(post_check(target, ref, "/upload", only_star, MULTIPART)) == {
        "files": {},
        "fields": {"f": ["data"]},
    }
    name_star = f"--{B}\r\nContent-Disposition: form-data; name=\"a\"; name*=utf-8''b\r\n\r\nv\r\n--{B}--\r\n".encode()
    assert assert_ok(post_check(target, ref, "/multipart", name_star, MULTIPART))["fields"] == {"a": ["v"]}
    assert_alive(target)


def test_row26_urlencoded_caps_are_400(target: Target, ref: Target) -> None:
    """Row 26: urlencoded with 10,000 fields, a 2 MB key or a 2 MB value: 400; 1,000 fields: 200. A Struct from a
    form and ``request.form()`` on a JSON body (415) for good measure."""
    ok = "&".join(f"k{i}=v" for i in range(1000)).encode()
    assert assert_ok(post_check(target, ref, "/form", ok, URLENC))["fields"] == 1000
    for body in (
        "&".join(f"k{i}=v" for i in range(10_000)).encode(),
        b"k" * (2 * MiB) + b"=v",
        b"k=" + b"v" * (2 * MiB),
    ):
        assert_problem(post_check(target, ref, "/form", body, URLENC), 400)
    assert_problem(post_check(target, ref, "/form", b'{"a":1}', JSON_CT), 415)
    assert assert_ok(post_check(target, ref, "/signup", b"name=a&age=3", URLENC)) == {"signup": {"name": "a", "age": 3}}
    assert_problem(post_check(target, ref, "/signup", b"name=a&age=x", URLENC), 422)
    assert_alive(target)


URLENCODED_ORDER = [
    (b"a=1&b=2&a=3&empty=&sp=x+y%21", [["a", ["1", "3"]], ["b", ["2"]], ["empty", [""]], ["sp", ["x y!"]]]),
    (b"first=&last=z", [["first", [""]], ["last", ["z"]]]),
    (b"only=", [["only", [""]]]),
    (b"novalue&x=1&tail", [["novalue", [""]], ["x", ["1"]], ["tail", [""]]]),
    (b"&&k=v&&", [["k", ["v"]]]),
    (
        b"pct=%E2%82%AC&plus=%2B&amp=%26&eq=a%3Db&semi=a;b&bad=%zz&last=a+b+%2B",
        [["pct", ["\u20ac"]], ["plus", ["+"]], ["amp", ["&"]], ["eq", ["a=b"]], ["semi", ["a;b"]], ["bad", ["%zz"]],
         ["last", ["a b +"]]],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "items"), URLENCODED_ORDER)
def test_urlencoded_fields_all_arrive_in_order(target: Target, ref: Target, body: bytes, items: list[Any]) -> None:
    """Every field of an urlencoded body arrives, names in order, values in order: Starlette before 1.10 dropped
    the last field unless the body stream ended with an empty chunk (ours did not), so ``sp`` was lost."""
    assert assert_ok(post_check(target, ref, "/form/items", body, URLENC)) == {"items": items}
    # The same body in chunks (chunked transfer coding), cut inside a field and inside a percent escape.
    cuts = sorted({len(body) // 3, len(body) // 2, len(body) - 2} - {0})
    pieces = [body[i:j] for i, j in zip([0, *cuts], [*cuts, len(body)]) if body[i:j]]
    r = target.post("/form/items", content=iter(pieces), headers={"content-type": URLENC})  # type: ignore[arg-type]
    assert assert_ok(r) == {"items": items}, pieces


# == row 25: a 50 MB upload next to /health ======================================================================


def _upload(port: int, size: int, out: dict[str, Any], pause: float = 0.0) -> None:
    head_part = (
        f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    tail = f"\r\n--{B}--\r\n".encode()
    total = len(head_part) + size + len(tail)
    head = build("POST", "/upload/big", [("content-type", MULTIPART)], content_length=total)
    block = bytes(range(256)) * 4096  # 1 MiB
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(head + head_part)
            left = size
            while left:
                n = min(left, len(block))
                sock.sendall(block[:n])
                left -= n
                if pause:
                    time.sleep(pause)  # the upload lasts long enough to be observed, however fast the machine
            sock.sendall(tail)
            out["response"] = read_response(sock)
    except Exception as exc:  # reported by the test
        out["error"] = exc
    out["done"] = time.perf_counter()


def _measure_upload(target: ServerTarget, pids: list[int], size: int) -> dict[str, Any]:
    """Idle /health latencies, then a ``size``-byte upload with /health polled (and RSS sampled) until it ends."""
    client, url = target.client, f"{target.base}/health"

    def health() -> float:
        t0 = time.perf_counter()
        r = client.get(url)
        dt = time.perf_counter() - t0
        assert (r.status_code, r.content) == (200, b"ok")
        return dt

    idle = [health() for _ in range(300)]
    before = rss_bytes(pids)
    out: dict[str, Any] = {"idle": idle, "busy": [], "before": before}
    thread = threading.Thread(target=_upload, args=(target.server.port, size, out, 0.02), daemon=True)
    out["start"] = time.perf_counter()
    thread.start()
    peak = before
    while thread.is_alive():
        out["busy"].append(health())
        peak = max(peak, rss_bytes(pids))
        time.sleep(0.002)
    thread.join()
    out["growth"] = peak - before
    return out


@real_only
def test_row25_big_upload_does_not_block_health_or_grow_memory(target: Target) -> None:
    """Row 25: a 50 MB upload (route limit 64 MiB, spooled to a temporary file, saved in a worker thread) while
    ``/health`` is polled on the same worker: the upload completes with every byte, the server's RSS grows by less
    than 30 MB, and /health p99 during the upload stays within 20× its idle p99 measured just before (a ratio,
    never an absolute time).

    A small upload first warms the server up (the first upload of a process pays one-time costs: imports, the
    thread pool). The shared test machine has latency spikes of its own, so the latency ratio must hold in one of
    two rounds; a loop really blocked by the upload (parsing or saving in the loop) fails both."""
    assert isinstance(target, ServerTarget) and target.server.proc is not None
    pids = process_tree(target.server.proc.pid)
    warm: dict[str, Any] = {}
    _upload(target.server.port, 2 * MiB, warm)
    assert warm.get("response", (0,))[0] == 200, warm
    size = 50 * 1000 * 1000
    rounds = []
    for _ in range(2):
        out = _measure_upload(target, pids, size)
        assert "error" not in out, out.get("error")
        status, _headers, body = out["response"]
        assert status == 200, body
        doc = json.loads(body)
        assert (doc["filename"], doc["size"]) == ("big.bin", size), doc
        assert doc["pid"] in pids
        assert out["growth"] < 30 * MiB, f"RSS grew by {out['growth'] / MiB:.1f} MiB during the upload"
        busy = out["busy"]
        assert len(busy) >= 5, f"only {len(busy)} /health answers during a {out['done'] - out['start']:.2f}s upload"
        idle_p99, busy_p99 = p99(out["idle"]), p99(busy)
        rounds.append(
            f"/health p99 {busy_p99 * 1000:.2f} ms during the upload vs {idle_p99 * 1000:.2f} ms idle "
            f"({len(busy)} samples in {out['done'] - out['start']:.2f}s)"
        )
        if busy_p99 <= 20 * idle_p99:
            break
    else:
        pytest.fail("; ".join(rounds))
    assert_alive(target)


# == rows 27, 28: query, headers, cookies ===========================================================================


def test_row27_too_many_query_parameters(target: Target, ref: Target) -> None:
    """Row 27: 10,000 query parameters are a 400 from our cap (1000); 1,000 are fine. The row's exact input
    (``a0=1&…&a9999=1``, 78 KB) goes to real servers only (httpx refuses URLs over 64 KiB); a server may refuse
    the long request line itself (observed: uvicorn-httptools 400 "Invalid HTTP request received.", Granian 414 at
    about 88 KB), else our 400."""
    ok = "&".join(f"a{i}=1" for i in range(1000))
    assert assert_ok(check(target, ref, "GET", f"/query?{ok}")) == {"params": 1000}
    expected = check(target, ref, "GET", "/query?" + "&".join(["a=1"] * 10_000))
    assert assert_problem(expected, 400)["detail"] == "Too many query parameters (the limit is 1000)."
    assert_problem(check(target, ref, "GET", "/query?" + "&".join(f"a{i}=1" for i in range(1001))), 400)
    if target.real:
        got = send(target, "GET", "/query?" + "&".join(f"a{i}=1" for i in range(10_000)))
        if got.header("content-type") == PROBLEM:
            assert_same(got, expected)
        else:  # the server's own refusal of the long request line (uvicorn-httptools: 400, Granian: 414)
            assert got.status in (400, 414), got
    assert_alive(target)


HEADER_CASES = [
    pytest.param([("x-big", "a" * 100_000)], id="one-100KB-header"),
    pytest.param([(f"x-h{i}", "1") for i in range(10_000)], id="10000-headers"),
    pytest.param([("accept-language", "a" * 50_000)], id="50KB-accept-language"),
    pytest.param([("cookie", "a=" + "b" * 65_536)], id="64KB-cookie"),
    pytest.param([(f"x-h{i}", "1") for i in range(100)], id="100-headers"),
    pytest.param([(f"x-{c}", c * 9000) for c in "abcdefgh"], id="72KB-in-8-headers"),
]


@pytest.mark.parametrize("path", ["/headers", "/headers-mapping"])
@pytest.mark.parametrize("headers", HEADER_CASES)
def test_row28_header_caps_are_431(target: Target, ref: Target, headers: list[tuple[str, str]], path: str) -> None:
    """Row 28: one 100 KB header, 10,000 headers, a 50 KB ``Accept-Language``, a 64 KB ``Cookie``, 100 headers on
    top of the defaults, 72 KB over 8 headers: 431 from our caps (100 headers, 16 KiB per header, 64 KiB in all)
    when the server lets them through; a server's own 431 (Granian has caps of its own) is accepted as is. The
    caps hold whichever way the handler reads headers (``request.header`` or only the ``request.headers``
    mapping)."""
    expected = send(ref, "GET", path, headers)
    assert_problem(expected, 431)
    got = send(target, "GET", path, headers)
    assert got.status == 431, got
    if got.header("content-type") == PROBLEM:
        assert_same(got, expected)
    else:
        assert target.name.startswith("granian"), f"{target.name} answered 431 itself: {got}"
    assert_alive(target)


def test_row28_under_the_header_caps(target: Target, ref: Target) -> None:
    """Row 28: just under every cap is fine: a 16,000-byte ``Accept-Language`` and 90 headers in all."""
    doc = assert_ok(check(target, ref, "GET", "/headers", [("accept-language", "a" * 16_000)]))
    assert doc["accept-language"] == 16_000
    assert assert_ok(check(target, ref, "GET", "/headers", [(f"x-h{i}", "1") for i in range(85)]))["count"] == 90
    assert_alive(target)


def test_row28_cookie_count_cap_is_431(target: Target, ref: Target) -> None:
    """Row 28 / 40: 301 cookies in a header under the size caps is a 431 (our cap: 300); 300 are fine."""
    cookies = "; ".join(f"c{i}=1" for i in range(301))
    assert_problem(check(target, ref, "GET", "/cookies", [("cookie", cookies)]), 431)
    cookies = "; ".join(f"c{i}=1" for i in range(300))
    assert assert_ok(check(target, ref, "GET", "/cookies", [("cookie", cookies)])) == {"cookies": 300}
    assert_alive(target)


def test_negotiation(target: Target, ref: Target) -> None:
    """``negotiate_response``: the preferred type, ``Vary: Accept``, 406 problem when none is acceptable."""
    r = check(target, ref, "GET", "/negotiate", [("accept", "text/html;q=0.9, application/json")])
    assert (r.status, r.header("content-type"), r.header("vary")) == (200, JSON_CT, "Accept"), r
    r = check(target, ref, "GET", "/negotiate", [("accept", "text/*")])
    assert (r.status, r.header("content-type"), r.body) == (200, "text/html; charset=utf-8", b"<p>hi</p>"), r
    assert_problem(check(target, ref, "GET", "/negotiate", [("accept", "image/png")]), 406)
    assert_alive(target)
