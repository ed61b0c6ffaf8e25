"""Odd request targets and malformed header lines on real servers (docs/hardening.md rows 30 and 32), raw sockets.

Every bad request is followed on the same connection by a normal one, so each test sees how many answers came
back and whether the connection was closed. Pinned outcomes (the app is ``apps/request_target.py``):

- Row 30, a target that is not origin-form: either the server refuses it (400 and close; uvicorn's body is
  "Invalid HTTP request received.", Granian's is empty) or it passes a path that does not begin with ``/`` (``*``,
  ``*.evil.example/x``, or ``""`` from Granian for ``@evil.example`` and authority-like targets) and the framework
  answers 400 problem+json "Invalid request target." without routing it, keeping the connection open.
  ``OPTIONS *`` is answered 200 without a body (RFC 9110 §9.3.7). Absolute form is routed by its path on every
  server, which drop its authority: ``request.url`` takes its host from ``Host``. Whatever the answer,
  ``request.url`` (``X-Seen-URL``, from a middleware that sees every answer) names ``testserver``, never
  ``evil.example``.
- Row 32, NUL, a control character, DEL, a bare CR, obs-fold, whitespace before the colon: every server answers
  400 and closes before the app runs. An HTAB inside a value is legal and reaches the handler; an obs-text byte
  (``0xE9``) reaches it as Latin-1 text under uvicorn and Granian ASGI, and the field is dropped under Granian RSGI
  (its header map holds only visible ASCII).

The in-process paths cannot send these targets (httpx sends origin form); ``tests/test_request_target.py`` drives
both adapters with such paths. They can send the bad header bytes: the in-process ASGI client passes them on,
the fake Granian drops the field as Granian would, and neither is ever a 500.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from compat_tests.harness import REAL_SERVERS, ServerTarget, Target, raw_request, read_all

APP = "request_target:app"
HOST = "testserver"
#: The longest any exchange here may take on a loaded machine (bounded waits, never asserted as a time).
BOUND = 8.0
PROBLEM = "application/problem+json"
NEXT = f"GET /after HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()

SERVER = "server"  # the server answers 400 and closes; the app never sees the request
APP_400 = "app"  # the server passes a path that is not origin-form; the framework answers 400, connection kept

real_only = pytest.mark.real_servers_only


def port_of(target: Target) -> int:
    assert isinstance(target, ServerTarget)
    return target.server.port


def exchange(target: Target, data: bytes) -> tuple[list[tuple[int, dict[str, str], bytes]], bool]:
    """Send ``data``; every response until the server closes (True) or ``BOUND`` passes (False)."""
    with socket.create_connection(("127.0.0.1", port_of(target)), timeout=BOUND) as sock:
        sock.sendall(data)
        buf, closed = read_all(sock, BOUND)
    answers = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        assert sep, f"a truncated response: {buf!r}"
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])  # every answer here has a length (no chunked bodies)
        answers.append((int(lines[0].split(" ")[1]), headers, rest[:length]))
        buf = rest[length:]
    return answers, closed


def handled(target: Target) -> int:
    req = f"GET /seen HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    r = raw_request("127.0.0.1", port_of(target), req)
    assert r.status == 200, r
    return int(json.loads(r.body)["count"])


def assert_our_host(url: str) -> None:
    assert urlsplit(url).hostname == HOST and url.startswith(f"http://{HOST}/"), url


def assert_refused_by_the_server(target: Target, answers: list[Any], closed: bool) -> None:
    """400 and close, one answer only (the request after it is never read)."""
    assert len(answers) == 1 and closed, (answers, closed)
    status, headers, body = answers[0]
    assert (status, headers.get("connection")) == (400, "close"), answers
    if target.name == "uvicorn":
        assert body == b"Invalid HTTP request received.", body
    else:
        assert body == b"" and "x-seen-url" not in headers, answers  # Granian's own answer, before the app


def assert_next_request_served(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    assert status == 200 and json.loads(body)["url"] == f"http://{HOST}/after", answer
    assert headers["x-seen-url"] == f"http://{HOST}/after"


def server_family(target: Target) -> str:
    return "uvicorn" if target.name == "uvicorn" else "granian"


# == row 30: request targets ===========================================================================================

#: (method, target) -> what uvicorn and Granian (both interfaces alike) do with it.
NOT_ORIGIN_FORM = [
    ("GET", "@evil.example", {"uvicorn": SERVER, "granian": APP_400}),
    ("GET", "@evil.example/x", {"uvicorn": SERVER, "granian": SERVER}),
    ("GET", "*", {"uvicorn": APP_400, "granian": APP_400}),
    ("DELETE", "*", {"uvicorn": APP_400, "granian": APP_400}),
    ("GET", "*evil.example", {"uvicorn": APP_400, "granian": APP_400}),
    ("GET", "*.evil.example/x", {"uvicorn": APP_400, "granian": SERVER}),
    ("GET", "evil.example", {"uvicorn": SERVER, "granian": APP_400}),
    ("GET", "evil.example:443", {"uvicorn": SERVER, "granian": APP_400}),
    ("CONNECT", "evil.example:443", {"uvicorn": SERVER, "granian": APP_400}),
    ("GET", "x", {"uvicorn": SERVER, "granian": APP_400}),
]


@real_only
@pytest.mark.parametrize(
    ("method", "request_target", "expected"), NOT_ORIGIN_FORM, ids=[f"{m} {t}" for m, t, _ in NOT_ORIGIN_FORM]
)
def test_row30_a_target_that_is_not_origin_form_is_never_routed(
    target: Target, method: str, request_target: str, expected: dict[str, str]
) -> None:
    before = handled(target)
    answers, closed = exchange(target, f"{method} {request_target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() + NEXT)
    if expected[server_family(target)] == SERVER:
        assert_refused_by_the_server(target, answers, closed)
        assert handled(target) == before
    else:
        assert len(answers) == 2 and closed, (answers, closed)  # kept open for the next request, then closed
        status, headers, body = answers[0]
        assert (status, headers["content-type"]) == (400, PROBLEM), answers
        assert json.loads(body)["detail"] == "Invalid request target."
        assert_our_host(headers["x-seen-url"])
        assert_next_request_served(answers[1])
        assert handled(target) == before + 1  # the request after it only
    for status, headers, _ in answers:  # the target's text may be in the path, never in the host
        assert status != 500, answers
        if "x-seen-url" in headers:
            assert_our_host(headers["x-seen-url"])


@real_only
def test_row30_options_asterisk_is_answered_for_the_server(target: Target) -> None:
    before = handled(target)
    answers, closed = exchange(target, f"OPTIONS * HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() + NEXT)
    assert len(answers) == 2 and closed, answers
    status, headers, body = answers[0]
    assert (status, body, headers.get("content-type")) == (200, b"", None), answers
    assert headers["x-seen-url"] == f"http://{HOST}/*"
    assert_next_request_served(answers[1])
    assert handled(target) == before + 1


ABSOLUTE_FORM = [
    ("http://evil.example/x", "/x", ""),
    ("http://evil.example/x?a=1", "/x", "?a=1"),
    ("https://evil.example:8443/x", "/x", ""),
    (f"http://{HOST}@evil.example/x", "/x", ""),
    ("HTTP://EVIL.EXAMPLE/x", "/x", ""),
    ("ftp://evil.example/x", "/x", ""),
]


@real_only
@pytest.mark.parametrize(("request_target", "path", "query"), ABSOLUTE_FORM, ids=[t for t, _, _ in ABSOLUTE_FORM])
def test_row30_absolute_form_is_routed_by_its_path_and_the_url_uses_host(
    target: Target, request_target: str, path: str, query: str
) -> None:
    before = handled(target)
    answers, closed = exchange(target, f"GET {request_target} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() + NEXT)
    assert len(answers) == 2 and closed, answers
    status, headers, body = answers[0]
    url = f"http://{HOST}{path}{query}"
    assert (status, json.loads(body)) == (200, {"url": url, "host": HOST, "path": path, "method": "GET"}), answers
    assert headers["x-seen-url"] == url
    assert_next_request_served(answers[1])
    assert handled(target) == before + 2


@real_only
def test_row30_absolute_form_without_a_path(target: Target) -> None:
    """uvicorn refuses ``http://evil.example`` (no path); Granian routes it as ``/``."""
    before = handled(target)
    answers, closed = exchange(target, f"GET http://evil.example HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode() + NEXT)
    if target.name == "uvicorn":
        assert_refused_by_the_server(target, answers, closed)
        assert handled(target) == before
        return
    assert len(answers) == 2 and closed, answers
    status, headers, body = answers[0]
    assert (status, json.loads(body)["url"], headers["x-seen-url"]) == (200, f"http://{HOST}/", f"http://{HOST}/")
    assert_next_request_served(answers[1])


# == row 32: malformed header lines ====================================================================================

BAD_LINES = [
    pytest.param(b"X-Probe: a\x00b\r\n", id="nul-in-value"),
    pytest.param(b"X-Probe: a\x01b\r\n", id="control-in-value"),
    pytest.param(b"X-Probe: a\x7fb\r\n", id="del-in-value"),
    pytest.param(b"X-Probe: a\rb\r\n", id="bare-cr-in-value"),
    pytest.param(b"X-Probe: a\r\n b\r\n", id="obs-fold-space"),
    pytest.param(b"X-Probe: a\r\n\tb\r\n", id="obs-fold-tab"),
    pytest.param(b"X-Probe : a\r\n", id="space-before-colon"),
    pytest.param(b"X-Probe\t: a\r\n", id="tab-before-colon"),
    pytest.param(b"X-Pr\x01obe: a\r\n", id="control-in-name"),
    pytest.param(b"X-Pr\x00obe: a\r\n", id="nul-in-name"),
    pytest.param(b"Cookie: a=1\x00; b=2\r\n", id="nul-in-cookie"),
    pytest.param(b"Cookie: a=1\x01; b=2\r\n", id="control-in-cookie"),
]


@real_only
@pytest.mark.parametrize("line", BAD_LINES)
def test_row32_a_malformed_header_line_is_400_and_close_before_the_app(target: Target, line: bytes) -> None:
    before = handled(target)
    answers, closed = exchange(target, f"GET /headers HTTP/1.1\r\nHost: {HOST}\r\n".encode() + line + b"\r\n" + NEXT)
    assert_refused_by_the_server(target, answers, closed)
    assert handled(target) == before


@real_only
@pytest.mark.parametrize("byte", [b"\x00", b"\x01"], ids=["nul", "control"])
def test_row32_a_bad_byte_in_host_is_400_and_close(target: Target, byte: bytes) -> None:
    before = handled(target)
    answers, closed = exchange(
        target, b"GET /headers HTTP/1.1\r\nHost: testserver" + byte + b".evil.example\r\n\r\n" + NEXT
    )
    assert_refused_by_the_server(target, answers, closed)
    assert handled(target) == before


@real_only
def test_row32_legal_but_unusual_values_reach_the_handler(target: Target) -> None:
    """An HTAB inside a value is legal (RFC 9110 §5.5) on every server; an obs-text byte differs per server."""
    answers, closed = exchange(
        target,
        f"GET /headers HTTP/1.1\r\nHost: {HOST}\r\nX-Probe: a\tb\r\nX-Other: caf\xe9\r\n\r\n".encode("latin-1") + NEXT,
    )
    assert len(answers) == 2 and closed, answers
    assert_next_request_served(answers[1])
    status, _, body = answers[0]
    seen = json.loads(body)
    assert (status, seen["x_probe"]) == (200, "a\tb"), answers
    other = [v for k, v in seen["headers"] if k == "x-other"]
    # Granian's RSGI header map keeps only visible-ASCII values: the field never reaches the app there.
    assert other == ([] if target.name == "granian-rsgi" else ["caf\xe9"]), seen


IN_PROCESS_BAD_VALUES = ["a\x00b", "a\x01b", "a\x7fb"]


@pytest.mark.exclude_paths(*REAL_SERVERS)  # the real servers refuse these bytes themselves (above)
@pytest.mark.parametrize("value", IN_PROCESS_BAD_VALUES, ids=["nul", "control", "del"])
def test_row32_bad_bytes_an_adapter_passes_on_are_never_a_500(target: Target, value: str) -> None:
    r = target.get("/headers", headers=[("x-probe", value), ("cookie", f"a=1{value}; b=2")])
    assert r.status == 200, r
    seen = r.json()
    if target.name == "rsgi":  # the fake Granian drops a value that is not visible ASCII, as Granian does
        assert (seen["x_probe"], seen["cookies"]) == (None, {}), seen
    else:  # Starlette's client passes the bytes on: they are text like any other, read without error
        assert (seen["x_probe"], seen["cookies"]) == (value, {"a": f"1{value}", "b": "2"}), seen
