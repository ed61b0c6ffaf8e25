"""Slow and broken request bodies (issue 17, docs/hardening.md rows 31 and 33), in-process: the body-read idle timeout
(408, ``Connection: close``, the handler never sees a partial body), a body shorter than its Content-Length, and
the RSGI adapter refusing a body that Granian reports as broken. The same cases over real servers are in
``compat_tests/test_compat_slow_clients.py``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gobstopper import Gobstopper, RequestTimeout
from gobstopper._env import SettingsError
from gobstopper.adapters.rsgi import RSGISource
from gobstopper.http.errors import ClientDisconnect
from gobstopper.settings import Settings
from gobstopper.testing import FakeHTTPProtocol, RSGIHeaders, RSGIScope

FOREVER = 3600.0  # a stalled client: the timeout under test is what ends the wait


# -- settings ------------------------------------------------------------------------------------------------


def test_body_timeout_defaults_to_30_seconds_and_comes_from_keyword_or_environment() -> None:
    assert Settings.build({}, environ={}).http.body_timeout == 30.0
    assert Settings.build({"body_timeout": 5}, environ={}).http.body_timeout == 5.0
    assert Settings.build({}, environ={"GOBSTOPPER_BODY_TIMEOUT": "2.5"}).http.body_timeout == 2.5
    assert Settings.build({}, environ={"GOBSTOPPER_BODY_TIMEOUT": "off"}).http.body_timeout is None
    assert Settings.build({"body_timeout": None}, environ={"GOBSTOPPER_BODY_TIMEOUT": "9"}).http.body_timeout is None


@pytest.mark.parametrize("value", [0, -1, "5", True])
def test_body_timeout_refuses_values_it_cannot_take(value: Any) -> None:
    with pytest.raises(SettingsError, match="body_timeout"):
        Settings.build({"body_timeout": value}, environ={})


def test_a_bad_body_timeout_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_BODY_TIMEOUT", "soon")
    with pytest.raises(SettingsError, match="GOBSTOPPER_BODY_TIMEOUT"):
        Gobstopper(__name__)


# -- an app whose handlers record what they got --------------------------------------------------------------


def make_app(timeout: float | None) -> tuple[Gobstopper, list[Any]]:
    app = Gobstopper(__name__, body_timeout=timeout)
    seen: list[Any] = []

    @app.post("/whole")
    async def whole(request):
        data = await request.get_data()
        seen.append(data)  # only ever reached with a complete body
        return {"len": len(data)}

    @app.post("/form")
    async def form(request):
        seen.append(await request.form())
        return {"ok": True}

    return app, seen


# -- ASGI: a receive() that stalls -----------------------------------------------------------------------------


def asgi_call(app: Gobstopper, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Run one request through the ASGI adapter; ``receive`` hands out ``messages`` and then stalls."""

    async def run() -> dict[str, Any]:
        queue = list(messages)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if queue:
                return queue.pop(0)
            await asyncio.sleep(FOREVER)
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/whole", "query_string": b"", "headers": headers,
                 "http_version": "1.1", "scheme": "http", "client": ("127.0.0.1", 1)}  # fmt: skip
        await asyncio.wait_for(app(scope, receive, send), 10)
        start = sent[0]
        return {
            "status": start["status"],
            "headers": {k.decode(): v.decode() for k, v in start["headers"]},
            "body": b"".join(m.get("body", b"") for m in sent[1:]),
        }

    return asyncio.run(run())


def test_asgi_a_stalled_body_is_408_with_connection_close_and_the_handler_never_sees_it() -> None:
    app, seen = make_app(0.2)
    headers = [(b"host", b"t"), (b"content-length", b"100")]
    answer = asgi_call(app, [{"type": "http.request", "body": b"x", "more_body": True}], headers)
    assert answer["status"] == 408
    assert answer["headers"]["content-type"] == "application/problem+json"
    assert answer["headers"]["connection"] == "close"
    doc = json.loads(answer["body"])
    assert doc["status"] == 408 and "0.2 s)" in doc["detail"]
    assert seen == []


def test_asgi_without_a_timeout_the_body_is_awaited() -> None:
    app, seen = make_app(None)

    async def run() -> int:
        state = {"n": 0}

        async def receive() -> dict[str, Any]:
            state["n"] += 1
            await asyncio.sleep(0.05)  # slower than any timeout the other tests use, and still served
            return {"type": "http.request", "body": b"ab", "more_body": state["n"] < 3}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/whole", "query_string": b"",
                 "headers": [(b"host", b"t")], "http_version": "1.1", "scheme": "http"}  # fmt: skip
        await app(scope, receive, send)
        return int(sent[0]["status"])

    assert asyncio.run(run()) == 200
    assert seen == [b"ababab"]


# -- RSGI: a protocol whose body iterator stalls ----------------------------------------------------------------


class StallingProtocol(FakeHTTPProtocol):
    """Granian's HTTP protocol for a client that sends ``chunks`` and then nothing (``stall``) or ends the body
    the way Granian reports a broken one (``broken``: an empty chunk for the error, then the empty end)."""

    def __init__(self, chunks: list[bytes], *, stall: bool = True, broken: bool = False) -> None:
        super().__init__(b"", method="POST")
        self.chunks, self.stall, self.broken = chunks, stall, broken

    async def _iter_body(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.sleep(FOREVER)
        if self.broken:
            yield b""
        yield b""


def rsgi_call(app: Gobstopper, protocol: StallingProtocol, headers: list[tuple[str, str]], path: str = "/whole",
              http_version: str = "1.1") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    scope = RSGIScope("POST", path, "", RSGIHeaders([("host", "t"), *headers]), http_version=http_version)

    async def run() -> None:
        await asyncio.wait_for(app.__rsgi__(scope, protocol), 10)

    asyncio.run(run())
    status, wire_headers, body, _ = protocol.wire_response()
    return status, dict(wire_headers), body


def test_rsgi_a_stalled_body_is_408_with_connection_close() -> None:
    app, seen = make_app(0.2)
    status, headers, body = rsgi_call(app, StallingProtocol([b"x" * 10]), [("content-length", "100")])
    assert (status, headers["connection"], headers["content-type"]) == (408, "close", "application/problem+json")
    assert json.loads(body)["status"] == 408
    assert seen == []


def test_rsgi_a_stalled_form_is_408() -> None:
    app, seen = make_app(0.2)
    protocol = StallingProtocol([b"a=1&b="])
    status, headers, _ = rsgi_call(
        app, protocol, [("content-type", "application/x-www-form-urlencoded"), ("content-length", "50")], "/form"
    )
    assert (status, headers["connection"]) == (408, "close")
    assert seen == []


def test_the_clock_runs_only_while_the_body_is_awaited() -> None:
    """An idle timeout: a handler that works longer than the timeout between chunks is not cut off."""
    app = Gobstopper(__name__, body_timeout=0.1)

    @app.post("/slow-reader")
    async def slow_reader(request):
        total = 0
        async for chunk in request.stream():
            await asyncio.sleep(0.25)  # longer than the timeout, while no body is awaited
            total += len(chunk)
        return {"len": total}

    protocol = StallingProtocol([b"a", b"b", b"c"], stall=False)
    status, _, body = rsgi_call(app, protocol, [("content-length", "3")], "/slow-reader")
    assert (status, json.loads(body)) == (200, {"len": 3})


# -- broken bodies ---------------------------------------------------------------------------------------------


def test_rsgi_a_body_granian_reports_as_broken_is_a_400_over_http1() -> None:
    """docs/hardening.md row 31: ``5\\r\\nhelloXX0\\r\\n\\r\\n`` reaches the app as ``hello``, an empty chunk for
    hyper's error and the empty end (observed on Granian 2.8.9); it must not reach the handler as a complete body."""
    app, seen = make_app(5)
    protocol = StallingProtocol([b"hello"], stall=False, broken=True)
    status, _, body = rsgi_call(app, protocol, [("transfer-encoding", "chunked")])
    doc = json.loads(body)
    assert (status, doc["status"]) == (400, 400)
    assert "ended abnormally" in doc["detail"]
    assert seen == []


def test_rsgi_the_same_shape_over_http2_is_an_empty_data_frame_and_accepted() -> None:
    """Over HTTP/2 an empty DATA frame with END_STREAM gives the same shape (observed); the framing is HTTP/2's."""
    app, seen = make_app(5)
    protocol = StallingProtocol([b"hello"], stall=False, broken=True)
    status, _, body = rsgi_call(app, protocol, [], http_version="2")
    assert (status, json.loads(body)) == (200, {"len": 5})
    assert seen == [b"hello"]


def test_rsgi_a_well_ended_body_is_accepted() -> None:
    app, seen = make_app(5)
    status, _, body = rsgi_call(app, StallingProtocol([b"hel", b"lo"], stall=False), [("content-length", "5")])
    assert (status, json.loads(body)) == (200, {"len": 5})


def test_a_body_shorter_than_its_content_length_never_reaches_the_handler() -> None:
    app, seen = make_app(5)
    status, _, body = rsgi_call(app, StallingProtocol([b"hello"], stall=False), [("content-length", "10")])
    assert (status, json.loads(body)["detail"]) == (400, "The request body is shorter than its Content-Length.")
    assert seen == []


def test_the_rsgi_source_judges_the_end_of_a_body_by_its_http_version() -> None:
    source = RSGISource()

    async def collect(iterator: AsyncIterator[bytes]) -> list[bytes]:
        return [chunk async for chunk in iterator]

    broken = StallingProtocol([b"x"], stall=False, broken=True)
    http1 = RSGIScope("POST", "/", "", RSGIHeaders([]), http_version="1.1")
    with pytest.raises(ClientDisconnect):
        asyncio.run(collect(source.body(http1, broken)))
    http2 = RSGIScope("POST", "/", "", RSGIHeaders([]), http_version="2")
    assert asyncio.run(collect(source.body(http2, StallingProtocol([b"x"], stall=False, broken=True))))


def test_request_timeout_is_public() -> None:
    exc = RequestTimeout(1.5)
    assert (exc.status_code, exc.headers) == (408, {"Connection": "close"})
