"""Slow and broken request bodies on real servers (issue 17; docs/hardening.md rows 31 and 33), over raw sockets.

Pinned outcomes (the app is ``apps/slow_clients.py``, body timeout 1 s):

- Row 33, a body that stops arriving (``Content-Length`` or chunked): 408 problem+json with ``Connection: close``
  about one timeout after the last byte, then the server closes the connection; the handler never ran on a partial
  body; the next request on a fresh connection succeeds. Same on uvicorn, Granian ASGI and Granian RSGI.
- Row 31, a chunked body with broken framing (``5\\r\\nhelloXX0\\r\\n\\r\\n`` with a pipelined GET, an LF in a chunk
  extension, a malformed trailer) and bodies cut short by the client closing its side: never a 200, never two
  responses, and the handler never ran. uvicorn refuses the framing itself (400 "Invalid HTTP request received.");
  Granian ASGI reports a disconnect (our 400); under Granian RSGI the adapter reads Granian's only signal (an empty
  chunk for hyper's error before the end) and answers 400. A half-closed body gets no answer from uvicorn.
- A well-formed trailer field: accepted on uvicorn and Granian ASGI; refused (400) under Granian RSGI over HTTP/1.1,
  where it has the same shape as a broken body (``docs/deployment.md``).

The in-process paths cannot stall or break a body; ``tests/test_body_timeout.py`` covers them with fake protocols.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from compat_tests.harness import RawResponse, ServerTarget, Target, load_app, raw_request, read_all

APP = "slow_clients:app"
BODY_TIMEOUT: float = load_app(APP).settings.http.body_timeout

pytestmark = pytest.mark.real_servers_only

PROBLEM = "application/problem+json"
#: The longest any answer here may take: the body timeout plus generous slack for a loaded machine.
BOUND = BODY_TIMEOUT + 8.0


def port_of(target: Target) -> int:
    assert isinstance(target, ServerTarget)
    return target.server.port


def responses(data: bytes) -> list[bytes]:
    """The status lines in ``data`` (to count responses on a connection)."""
    return [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def seen(target: Target) -> int:
    r = raw_request("127.0.0.1", port_of(target), b"GET /seen HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert r.status == 200, r
    return int(json.loads(r.body)["bodies"])


def assert_alive(target: Target) -> None:
    r: RawResponse = raw_request("127.0.0.1", port_of(target), b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (r.status, r.body) == (200, b"ok"), r


# == row 33: a body that stops arriving ==============================================================================


STALLS = [
    pytest.param(b"content-length: 100\r\n\r\n" + b"x" * 10, id="content-length"),
    pytest.param(b"transfer-encoding: chunked\r\n\r\na\r\n" + b"x" * 10 + b"\r\n", id="chunked"),
]


@pytest.mark.parametrize("rest", STALLS)
def test_row33_a_stalled_body_is_408_and_the_connection_is_closed(target: Target, rest: bytes) -> None:
    before = seen(target)
    with socket.create_connection(("127.0.0.1", port_of(target)), timeout=BOUND) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-type: application/octet-stream\r\n" + rest)
        started = time.monotonic()
        data, closed = read_all(sock, BOUND)
        waited = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), data
    lower = head.lower()
    assert b"content-type: application/problem+json" in lower and b"connection: close" in lower, head
    assert json.loads(body)["status"] == 408
    assert closed, f"the connection stayed open after the 408 ({waited:.1f}s)"
    assert waited >= BODY_TIMEOUT * 0.9, f"answered after {waited:.2f}s, before the body timeout"
    assert seen(target) == before  # the handler never finished on a partial body
    assert_alive(target)


def test_row33_a_slow_body_that_keeps_arriving_is_served(target: Target) -> None:
    """An idle timeout: a body whose pieces come closer together than the timeout is read to its end."""
    with socket.create_connection(("127.0.0.1", port_of(target)), timeout=BOUND) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: 4\r\n\r\n")
        for byte in b"abcd":
            time.sleep(BODY_TIMEOUT / 3)
            sock.sendall(bytes([byte]))
        data, _ = read_all(sock, BOUND)
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert json.loads(data.partition(b"\r\n\r\n")[2])["len"] == 4


# == row 31: broken framing and bodies cut short ======================================================================

HEAD = b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
PIPELINED = b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n"

BROKEN = [
    pytest.param(HEAD + b"5\r\nhelloXX0\r\n\r\n" + PIPELINED, False, id="bad-chunk-end+pipelined-get"),
    pytest.param(HEAD + b"5;a=b\nc\r\nhello\r\n0\r\n\r\n", False, id="lf-in-chunk-extension"),
    pytest.param(HEAD + b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", False, id="malformed-trailer"),
    pytest.param(HEAD + b"5\r\nhello\r\n", True, id="chunked-then-half-close"),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nhello", True, id="short-then-half-close"
    ),
]


@pytest.mark.parametrize(("data", "half_close"), BROKEN)
def test_row31_a_broken_body_never_reaches_the_handler_as_complete(
    target: Target, data: bytes, half_close: bool
) -> None:
    before = seen(target)
    with socket.create_connection(("127.0.0.1", port_of(target)), timeout=BOUND) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer, _ = read_all(sock, BOUND)
    lines = responses(answer)
    assert len(lines) <= 1, f"two responses on one connection: {answer!r}"
    if lines:
        assert lines[0].startswith(b"HTTP/1.1 400 "), answer
    else:
        # Only uvicorn answers nothing, and only when the client half-closed (it takes that as a disconnect).
        assert target.name == "uvicorn" and half_close, answer
    assert seen(target) == before, "the handler got the broken body as complete"
    assert_alive(target)


def test_row31_a_trailer_field_is_refused_only_where_it_looks_like_a_broken_body(target: Target) -> None:
    data = HEAD.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n") + b"5\r\nhello\r\n0\r\nx-checksum: 1\r\n\r\n"
    r = raw_request("127.0.0.1", port_of(target), data)
    if target.name == "granian-rsgi":
        assert r.status == 400 and json.loads(r.body)["detail"].startswith("The request body ended abnormally"), r
    else:
        assert (r.status, json.loads(r.body)["len"]) == (200, 5), r


def test_row31_a_well_formed_chunked_body_is_served(target: Target) -> None:
    data = HEAD.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n") + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    r = raw_request("127.0.0.1", port_of(target), data)
    assert (r.status, json.loads(r.body)["len"]) == (200, 11), r
