"""Paths that are not origin-form, as servers pass them on (docs/hardening.md row 30), through both adapters.

uvicorn passes ``*``, ``*evil.example`` and ``*.evil.example/x`` on as the path; Granian passes ``*`` and turns
``@evil.example`` or ``evil.example`` into ``""`` (``compat_tests/test_compat_request_target.py`` on the real
servers). Both routers read the first character of a path as ``/``, so such a path used to be routed (``*`` to
``/``, ``@admin`` to ``/admin``), and ``request.url`` joined it to the host (``http://testserver*.evil.example/x``).
Now it is never routed: 400 problem+json, ``OPTIONS *`` 200 without a body, and ``request.url`` always has a ``/``
between host and path.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from gobstopper import Gobstopper
from gobstopper.testing import FakeHTTPProtocol, RSGIHeaders, RSGIScope

HOST = "testserver"
NOT_ORIGIN_FORM = ["*", "", "*evil.example", "*.evil.example/x", "x", "@admin", "evil.example:443"]


def make_app() -> tuple[Gobstopper, list[str]]:
    app = Gobstopper(__name__)
    ran: list[str] = []

    async def seen_url(request, call_next):
        response = await call_next(request)
        response.headers["x-seen-url"] = request.url
        return response

    app.add_middleware(seen_url)

    @app.get("/")
    async def root(request):
        ran.append("/")
        return {"url": request.url}

    @app.route("/<path:rest>", methods=["GET", "DELETE", "OPTIONS"])
    async def anything(request, rest):
        ran.append(rest)
        return {"url": request.url}

    @app.websocket("/<path:rest>")
    async def ws(websocket, rest):
        ran.append("ws:" + rest)
        await websocket.accept()

    return app, ran


def call_asgi(app: Any, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", HOST.encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }

    async def run() -> None:
        async with asyncio.timeout(10):
            await app(scope, receive, send)

    asyncio.run(run())
    start = messages[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in messages[1:])


def call_rsgi(app: Any, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    protocol = FakeHTTPProtocol(b"", method=method)
    scope = RSGIScope(method, path, "", RSGIHeaders([("host", HOST)]))

    async def run() -> None:
        async with asyncio.timeout(10):
            await app.__rsgi__(scope, protocol)

    asyncio.run(run())
    status, headers, body, _ = protocol.wire_response()
    return status, dict(headers), body


CALLS = [pytest.param(call_asgi, id="asgi"), pytest.param(call_rsgi, id="rsgi")]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", NOT_ORIGIN_FORM)
def test_a_path_that_is_not_origin_form_is_400_and_never_routed(call: Any, method: str, path: str) -> None:
    app, ran = make_app()
    status, headers, body = call(app, method, path)
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert json.loads(body)["detail"] == "Invalid request target."
    assert ran == []
    # Middleware still sees the answer, and the URL it reads keeps the Host header's host.
    assert urlsplit(headers["x-seen-url"]).hostname == HOST
    assert headers["x-seen-url"] == f"http://{HOST}/{path.lstrip('/')}"


@pytest.mark.parametrize("call", CALLS)
def test_options_asterisk_is_200_without_a_body(call: Any) -> None:
    app, ran = make_app()
    status, headers, body = call(app, "OPTIONS", "*")
    assert (status, body, headers.get("content-type")) == (200, b"", None)
    assert headers["x-seen-url"] == f"http://{HOST}/*"
    assert ran == []


@pytest.mark.parametrize("call", CALLS)
def test_origin_form_paths_are_still_routed(call: Any) -> None:
    app, ran = make_app()
    assert call(app, "GET", "/")[0] == 200
    status, headers, body = call(app, "GET", "/a/b")
    assert (status, json.loads(body), headers["x-seen-url"]) == (
        200,
        {"url": f"http://{HOST}/a/b"},
        f"http://{HOST}/a/b",
    )
    assert ran == ["/", "a/b"]


@pytest.mark.parametrize("path", ["*", "", "@admin"])
def test_a_websocket_handshake_on_such_a_path_is_refused_with_400(path: str) -> None:
    app, ran = make_app()
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", HOST.encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }

    async def run() -> None:
        async with asyncio.timeout(10):
            await app(scope, receive, send)

    asyncio.run(run())
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 400, sent
    assert ran == []
