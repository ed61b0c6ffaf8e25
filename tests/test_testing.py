"""Unit tests for gobstopper.testing: the fake Granian RSGI protocol, RSGITestClient and TestClient.

The apps here are raw RSGI/ASGI callables, so these tests do not depend on the Gobstopper core.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gobstopper.testing import (
    FakeHTTPProtocol,
    RSGIHeaders,
    RSGIProtocolClosed,
    RSGIProtocolError,
    RSGIScope,
    RSGITestClient,
    TestClient,
)

Handler = Callable[[RSGIScope, FakeHTTPProtocol], Awaitable[None]]


class RawApp:
    """A raw RSGI app whose per-request behaviour is one coroutine function, with lifecycle hooks."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.events: list[tuple[str, bool]] = []
        self.seen: list[Any] = []

    async def __rsgi__(self, scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        await self.handler(scope, proto)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(("init", loop.is_running()))
        loop.run_until_complete(asyncio.sleep(0))  # must be possible: the loop is not running

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(("del", loop.is_running()))


def client_for(handler: Handler, **kwargs: Any) -> RSGITestClient:
    return RSGITestClient(RawApp(handler), **kwargs)


# -- headers and scope ---------------------------------------------------------------------------------


def test_rsgi_headers_semantics() -> None:
    h = RSGIHeaders([("X-Dup", "one"), ("x-dup", "two"), ("Host", "t"), ("x-na", "caf\xc3\xa9")])
    assert h.get("X-DUP") == "one"
    assert h["x-Dup"] == "one"
    assert h.get_all("x-dup") == ["one", "two"]
    assert h.items() == [("x-dup", "one"), ("x-dup", "two"), ("host", "t")]
    assert h.keys() == ["x-dup", "host", "x-na"]
    assert list(h) == ["x-dup", "host", "x-na"]
    assert len(h) == 3
    assert "HOST" in h and "nope" not in h
    # Non-ASCII values are invisible to get/items but the name is still listed (Granian 2.8.7).
    assert h.get("x-na", "DEF") == "DEF"
    assert h["x-na"] == ""
    with pytest.raises(KeyError):
        h["nope"]
    assert h.get("nope") is None


def test_scope_is_built_like_granian() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_empty(200, [])

    app = RawApp(handler)
    with RSGITestClient(app) as c:
        c.get("/a%2Fb/caf%C3%A9/%ZZ?x=%20y&z=1", headers=[("X-Dup", "1"), ("X-Dup", "2")])
        scope = c.last_scope
    assert scope is not None
    assert scope.path == "/a/b/café/%ZZ"  # decoded, %2F included; invalid escapes kept
    assert scope.query_string == "x=%20y&z=1"  # raw
    assert (scope.proto, scope.http_version, scope.rsgi_version) == ("http", "1.1", "1.6")
    assert scope.method == "GET" and scope.scheme == "http" and scope.authority is None
    assert scope.server == "127.0.0.1:8000" and scope.client == "127.0.0.1:12345"
    assert scope.headers.get("host") == "testserver"
    assert scope.headers.get_all("x-dup") == ["1", "2"]


# -- lifecycle ---------------------------------------------------------------------------------------------


def test_init_and_del_get_a_loop_that_is_not_running() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_str(200, [], "ok")

    app = RawApp(handler)
    with RSGITestClient(app) as c:
        assert app.events == [("init", False)]
        assert c.get("/").text == "ok"
    assert app.events == [("init", False), ("del", False)]


def test_requests_work_without_with_block() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_str(200, [], "ok")

    app = RawApp(handler)
    c = RSGITestClient(app)
    assert c.get("/").text == "ok"
    c.close()
    assert app.events == []


# -- request body ------------------------------------------------------------------------------------------


def test_body_read_whole_and_second_read_raises() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        body = await proto()
        errors = []
        try:
            await proto()
        except RSGIProtocolError as exc:
            errors.append(type(exc).__mro__[1].__name__)
        try:
            async for _ in proto:
                pass
        except RuntimeError:
            errors.append("iter")
        proto.response_bytes(200, [("x-errors", ",".join(errors))], body)

    with client_for(handler) as c:
        r = c.post("/", content=b"payload")
    assert r.content == b"payload"
    assert r.headers["x-errors"] == "RuntimeError,iter"


def test_body_iteration_ends_with_empty_chunk() -> None:
    chunks: list[bytes] = []

    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        async for chunk in proto:
            chunks.append(chunk)
        with pytest.raises(RuntimeError):
            await proto()
        proto.response_empty(204, [])

    with client_for(handler, body_chunk_size=4) as c:
        assert c.post("/", content=b"0123456789").status_code == 204
    assert chunks == [b"0123", b"4567", b"89", b""]

    chunks.clear()
    with client_for(handler) as c:
        c.post("/", content=b"")
    assert chunks == [b""]


# -- responses ---------------------------------------------------------------------------------------------


def test_bytes_and_str_get_content_length_and_lower_case_names() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        if scope.path == "/s":
            proto.response_str(200, [("Content-Type", "text/plain; charset=utf-8")], "héllo")
        else:
            proto.response_bytes(201, [("X-Mixed", "M")], b"abc")

    with client_for(handler) as c:
        r = c.get("/s")
        assert r.status_code == 200
        assert r.headers.raw == [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"6")]
        assert r.text == "héllo"
        r = c.get("/b")
        assert r.status_code == 201 and r.content == b"abc"
        assert r.headers.raw == [(b"x-mixed", b"M"), (b"content-length", b"3")]


def test_only_first_response_counts_and_stream_after_response_raises() -> None:
    seen: list[str] = []

    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_bytes(200, [], b"first")
        proto.response_str(201, [], "second")
        proto.response_empty(202, [])
        try:
            proto.response_stream(200, [])
        except RuntimeError as exc:
            seen.append(str(exc))

    with client_for(handler) as c:
        r = c.get("/")
    assert (r.status_code, r.content) == (200, b"first")
    assert seen == ["RSGI protocol error"]


def test_no_response_is_empty_500() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        return None

    with client_for(handler) as c:
        r = c.get("/")
        assert (r.status_code, r.content, r.headers["content-length"]) == (500, b"", "0")
        assert c.last_exception is None


def test_app_exception_is_empty_500_and_kept() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        raise ValueError("boom")

    with client_for(handler) as c:
        r = c.get("/")
        assert (r.status_code, r.content) == (500, b"")
        assert isinstance(c.last_exception, ValueError)
        assert c.get("/").status_code == 500  # the client keeps working
    with client_for(handler, raise_server_exceptions=True) as c, pytest.raises(ValueError, match="boom"):
        c.get("/")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "1"},  # a dict, not a list
        [["x-a", "1"]],  # a list instead of a tuple (Granian: TypeError)
        [("x-a", 1)],
        [(b"x-a", b"1")],
        [("x-a", "1", "extra")],
    ],
)
def test_bad_header_list_is_an_assertion_even_if_swallowed(headers: Any) -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        try:
            proto.response_bytes(200, headers, b"x")
        except AssertionError:
            proto.response_bytes(200, [], b"fallback")  # an adapter that hides the bug

    with client_for(handler) as c, pytest.raises(AssertionError, match="RSGI header"):
        c.get("/")


@pytest.mark.parametrize("status", [99, 600, "200", 200.0, True])
def test_invalid_status_is_an_assertion(status: Any) -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_empty(status, [])

    with client_for(handler) as c, pytest.raises(AssertionError, match="status"):
        c.get("/")


def test_unparsable_headers_are_dropped_like_granian() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_bytes(
            200, [("x-ok", "1"), ("x-bad", "v\r\ninjected: 1"), ("x bad", "2"), ("x-nul", "a\x00b")], b"ok"
        )

    with client_for(handler) as c:
        r = c.get("/")
    assert [k for k, _ in r.headers.raw] == [b"x-ok", b"content-length"]
    assert "injected" not in r.headers


def test_duplicate_set_cookie_stays_separate() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_bytes(200, [("set-cookie", "a=1"), ("Set-Cookie", "b=2")], b"")

    with client_for(handler) as c:
        r = c.get("/")
        assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
        assert c.cookies["a"] == "1" and c.cookies["b"] == "2"


def test_wrong_app_content_length_on_bytes_is_an_assertion() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_bytes(200, [("content-length", "3")], b"hello")

    with client_for(handler) as c:
        with pytest.raises(AssertionError, match="content-length"):
            c.get("/")
        # HEAD keeps the app's length and sends no body (hyper), so nothing is wrong there.
        r = c.head("/")
        assert (r.headers["content-length"], r.content) == ("3", b"")


def test_head_drops_body_and_keeps_lengths() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        if scope.path == "/empty":
            proto.response_empty(200, [("x-a", "1")])
        elif scope.path == "/empty-cl":
            proto.response_empty(200, [("content-length", "5")])
        else:
            proto.response_bytes(200, [("content-type", "text/plain")], b"hello")

    with client_for(handler) as c:
        r = c.head("/bytes")
        assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "5")
        assert c.head("/empty").headers.get("content-length") is None
        assert c.head("/empty-cl").headers["content-length"] == "5"
        # GET on an empty response: hyper replaces the app's length by 0.
        assert c.get("/empty-cl").headers.get_list("content-length") == ["0"]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_have_no_body_and_no_computed_length(status: int) -> None:
    # Observed on Granian 2.8.7: the body is dropped, no length is computed, an app-set one is kept
    # (bytes responses) or dropped (response_empty on GET), as for other statuses.
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        if scope.path == "/cl":
            proto.response_bytes(status, [("content-length", "3"), ("etag", '"x"')], b"abc")
        elif scope.path == "/empty-cl":
            proto.response_empty(status, [("content-length", "7")])
        else:
            proto.response_bytes(status, [("etag", '"x"')], b"abc")

    with client_for(handler) as c:
        r = c.get("/")
        assert (r.status_code, r.content, r.headers.raw) == (status, b"", [(b"etag", b'"x"')])
        r = c.get("/cl")
        assert (r.content, r.headers.raw) == (b"", [(b"content-length", b"3"), (b"etag", b'"x"')])
        assert c.get("/empty-cl").headers.raw == []
        assert c.head("/empty-cl").headers.raw == [(b"content-length", b"7")]


def test_response_file_and_range(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"hello world")

    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        if scope.path == "/file":
            proto.response_file(200, [("content-type", "text/plain")], str(f))
        elif scope.path == "/range":
            proto.response_file_range(206, [("content-length", "3")], str(f), 2, 5)
        elif scope.path == "/bad-range":
            try:
                proto.response_file_range(206, [], str(f), 5, 5)
            except ValueError:
                proto.response_str(416, [], "bad range")
        else:
            proto.response_file(200, [("content-type", "text/plain"), ("x-a", "1")], str(tmp_path / "nope"))

    with client_for(handler) as c:
        r = c.get("/file")
        assert (r.status_code, r.content) == (200, b"hello world")
        assert "content-length" not in r.headers  # the app owns file headers; none means chunked
        assert r.extensions["rsgi.kind"] == "file"
        assert c.head("/file").content == b""
        r = c.get("/range")
        assert (r.status_code, r.content, r.headers["content-length"]) == (206, b"llo", "3")
        assert c.get("/bad-range").status_code == 416
        r = c.get("/missing")
        # Granian's own 404: the app's headers are thrown away.
        assert (r.status_code, r.text) == (404, "Not found")
        assert r.headers.raw == [(b"content-length", b"9")]


def test_response_stream() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        t = proto.response_stream(200, [("content-type", "text/plain")])
        await t.send_bytes(b"ab")
        await t.send_str("cd")
        await t.send_bytes(b"")

    with client_for(handler) as c:
        r = c.get("/")
        assert (r.status_code, r.content) == (200, b"abcd")
        assert r.headers.raw == [(b"content-type", b"text/plain")]
        assert r.extensions["rsgi.kind"] == "stream"
        assert c.head("/").content == b""


# -- disconnects -------------------------------------------------------------------------------------------


def test_client_disconnect_never_resolves_by_itself() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        try:
            await asyncio.wait_for(proto.client_disconnect(), 0.05)
            proto.response_str(200, [], "disconnected")
        except TimeoutError:
            proto.response_str(200, [], "still connected")

    with client_for(handler) as c:
        assert c.get("/").text == "still connected"
        assert c.get("/", extensions={"rsgi.disconnect": True}).text == "disconnected"


def test_disconnect_after_chunks_closes_the_stream() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        watcher = asyncio.ensure_future(proto.client_disconnect())
        t = proto.response_stream(200, [])
        try:
            for i in range(1000):
                await t.send_str(f"{i};")
                await asyncio.sleep(0)
                if watcher.done():
                    break
        except RSGIProtocolClosed:
            pass
        finally:
            watcher.cancel()

    with client_for(handler) as c:
        r = c.get("/", extensions={"rsgi.disconnect_after_chunks": 3})
    assert r.content == b"0;1;2;"


def test_leaked_disconnect_watcher_is_reported() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        asyncio.ensure_future(proto.client_disconnect())  # never cancelled
        proto.response_empty(200, [])

    with client_for(handler) as c, pytest.raises(AssertionError, match="client_disconnect"):
        c.get("/")
    with client_for(handler, check_disconnect_watchers=False) as c:
        assert c.get("/").status_code == 200


def test_only_one_disconnect_waiter_wakes() -> None:
    async def scenario() -> list[bool]:
        proto = FakeHTTPProtocol()
        a = asyncio.ensure_future(proto.client_disconnect())
        b = asyncio.ensure_future(proto.client_disconnect())
        await asyncio.sleep(0)
        proto.disconnect()
        await asyncio.sleep(0)
        done = [a.done(), b.done()]
        b.cancel()
        return done

    assert asyncio.run(scenario()) == [True, False]


def test_app_timeout() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        await asyncio.sleep(10)

    with client_for(handler, app_timeout=0.05) as c, pytest.raises(AssertionError, match="did not finish"):
        c.get("/")


# -- ASGI TestClient ---------------------------------------------------------------------------------------


class AsgiApp:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    self.events.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


def test_asgi_test_client_runs_lifespan_and_requests() -> None:
    app = AsgiApp()
    with TestClient(app) as c:
        assert app.events == ["startup"]
        r = c.get("/a%20b")
        assert (r.status_code, r.text) == (200, "/a b")
        assert str(c.base_url) == "http://testserver"
    assert app.events == ["startup", "shutdown"]


def test_asgi_test_client_decodes_the_path_once_like_servers() -> None:
    # Starlette's own client unquotes an already-decoded path (/%2541 -> /A); uvicorn and Granian give /%41.
    app = AsgiApp()
    c = TestClient(app)
    assert c.app is app
    assert c.get("/x%2541/caf%C3%A9").text == "/x%41/café"


def test_rsgi_path_is_decoded_once() -> None:
    async def handler(scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        proto.response_str(200, [], scope.path)

    with client_for(handler) as c:
        assert c.get("/x%2541").text == "/x%41"


def test_testing_module_respects_layering() -> None:
    import subprocess

    code = (
        "import sys, gobstopper.testing; "
        "bad = [m for m in ('granian', 'uvicorn', 'gobstopper.adapters') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
