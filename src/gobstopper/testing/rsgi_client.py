"""The RSGI test client: drives an app in-process through its RSGI entry points with the fake Granian protocols
(:mod:`.rsgi_http`, :mod:`.rsgi_websocket`), with an httpx API, and its WebSocket session."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from ._httpx import httpx
from .rsgi_http import FakeHTTPProtocol, RSGIHeaders, RSGIScope
from .rsgi_websocket import FakeWebSocketProtocol


class WebSocketRejected(Exception):
    """The app refused the WebSocket handshake with HTTP ``status_code`` (RSGITestClient)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"WebSocket handshake refused with HTTP {status_code}")
        self.status_code = status_code


class WebSocketClosed(Exception):
    """The server closed the WebSocket (RSGITestClient). Under RSGI the code is always 1005: Granian sends a
    close frame without a code after ``accept()`` (docs/rsgi-notes.md, G13)."""

    def __init__(self, code: int = 1005, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class RSGIWebSocketSession:
    """A client WebSocket to an app served by :class:`RSGITestClient` (use ``client.websocket_connect``).

    The API follows Starlette's ``WebSocketTestSession``: ``send_text``, ``send_bytes``, ``send_json``,
    ``receive_text``, ``receive_bytes``, ``receive_json``, ``close``. Receiving after the server closed raises
    :class:`WebSocketClosed`; a refused handshake raises :class:`WebSocketRejected` from ``websocket_connect``.
    """

    def __init__(self, client: RSGITestClient, scope: RSGIScope, timeout: float) -> None:
        self._client = client
        self._scope = scope
        self._timeout = timeout
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._loop = client.loop
        self._future: concurrent.futures.Future[None] | None = None
        self.protocol: FakeWebSocketProtocol | None = None
        self.closed_by_server = False
        self._closed = False

    def _start(self) -> None:
        self.protocol = FakeWebSocketProtocol(self._events.put)
        self._future = asyncio.run_coroutine_threadsafe(self._client._run_ws(self._scope, self.protocol), self._loop)
        event = self._next_event()
        if event[0] == "reject":
            self._finish()
            raise WebSocketRejected(event[1])
        if event[0] != "accept":
            self._finish()
            raise AssertionError(f"unexpected event before the handshake completed: {event!r}")

    def _next_event(self, timeout: float | None = None) -> tuple[Any, ...]:
        try:
            return self._events.get(timeout=self._timeout if timeout is None else timeout)
        except queue.Empty:
            raise TimeoutError(f"no WebSocket event from the app within {self._timeout}s") from None

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        self._loop.call_soon_threadsafe(func, *args)

    # -- sending --------------------------------------------------------------------------------------------

    def send_text(self, data: str) -> None:
        assert self.protocol is not None
        self._call(self.protocol.client_send, data)

    def send_bytes(self, data: bytes) -> None:
        assert self.protocol is not None
        self._call(self.protocol.client_send, bytes(data))

    def send(self, data: str | bytes) -> None:
        self.send_text(data) if isinstance(data, str) else self.send_bytes(data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"))
        self.send_text(text) if mode == "text" else self.send_bytes(text.encode())

    # -- receiving ------------------------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message (``str`` or ``bytes``). Raises :class:`WebSocketClosed` once the server closed."""
        if self.closed_by_server:
            raise WebSocketClosed()
        event = self._next_event(timeout)
        if event[0] in ("text", "bytes"):
            assert self.protocol is not None
            self._call(self.protocol.client_consumed, len(event[1]))
            return event[1]  # type: ignore[no-any-return]
        self.closed_by_server = True
        raise WebSocketClosed()

    def receive_text(self, timeout: float | None = None) -> str:
        data = self.receive(timeout)
        assert isinstance(data, str), f"expected a text message, got {data!r:.80}"
        return data

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        data = self.receive(timeout)
        assert isinstance(data, bytes), f"expected a binary message, got {data!r:.80}"
        return data

    def receive_json(self, timeout: float | None = None) -> Any:
        return json.loads(self.receive(timeout))

    # -- closing -------------------------------------------------------------------------------------------

    def close(self, code: int = 1000) -> None:
        """Close from the client side (Granian does not pass ``code`` to the app: kind 0 has none)."""
        if not self._closed and self.protocol is not None:
            self._call(self.protocol.client_close)
        self._finish()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._future is not None:
                try:
                    self._future.result(self._client.app_timeout)
                except concurrent.futures.TimeoutError:
                    raise AssertionError(f"the WebSocket app did not end within {self._client.app_timeout}s") from None
        finally:
            self._client._release_loop_thread()
        if self.protocol is not None and self.protocol.violations:
            raise self.protocol.violations[0]
        if self._client.last_exception is not None and self._client.raise_server_exceptions:
            raise self._client.last_exception

    def __enter__(self) -> RSGIWebSocketSession:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class _RSGITransport(httpx.BaseTransport):
    def __init__(self, client: RSGITestClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._client._handle(request)


class RSGITestClient(httpx.Client):
    """Drive a Gobstopper app in-process through its RSGI entry points with a fake Granian protocol.

    ``with RSGITestClient(app) as client:`` calls ``app.__rsgi_init__(loop)`` on enter and
    ``app.__rsgi_del__(loop)`` on exit, with the loop not running (as in Granian's multi-process server).
    Each request runs ``await app.__rsgi__(scope, protocol)`` on that loop. The API is httpx's.

    Per-request knobs go through httpx ``extensions``:
    ``{"rsgi.disconnect": True}`` (the client is gone before the app runs) and
    ``{"rsgi.disconnect_after_chunks": n}`` (the client goes away after ``n`` streamed chunks).

    If the app raises, the response is Granian's empty 500 and the exception is kept in
    :attr:`last_exception` (or re-raised with ``raise_server_exceptions=True``). Protocol violations
    (bad header lists, invalid status, wrong content-length) always raise ``AssertionError``.
    """

    __test__ = False

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = False,
        server: str = "127.0.0.1:8000",
        client: str = "127.0.0.1:12345",
        body_chunk_size: int = 64 * 1024,
        app_timeout: float | None = 30.0,
        check_disconnect_watchers: bool = True,
        headers: dict[str, str] | None = None,
        cookies: httpx._types.CookieTypes | None = None,
        follow_redirects: bool = False,
    ) -> None:
        super().__init__(
            base_url=base_url,
            headers=headers,
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=_RSGITransport(self),
        )
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.server_addr = server
        self.client_addr = client
        self.body_chunk_size = body_chunk_size
        self.app_timeout = app_timeout
        self.check_disconnect_watchers = check_disconnect_watchers
        self.last_exception: BaseException | None = None
        self.last_protocol: FakeHTTPProtocol | None = None
        self.last_scope: RSGIScope | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._entered = False
        # While WebSocket sessions are open the loop runs in this thread and requests are submitted to it.
        self._loop_thread: threading.Thread | None = None
        self._open_sessions = 0

    # -- loop and lifecycle ------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    def __enter__(self) -> RSGITestClient:
        super().__enter__()
        loop = self.loop
        asyncio.set_event_loop(loop)
        init: Callable[[asyncio.AbstractEventLoop], None] | None = getattr(self.app, "__rsgi_init__", None)
        if init is not None:
            init(loop)  # loop not running: async setup must use loop.run_until_complete
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            if self._entered:
                self._entered = False
                fini: Callable[[asyncio.AbstractEventLoop], None] | None = getattr(self.app, "__rsgi_del__", None)
                if fini is not None:
                    fini(self.loop)
        finally:
            self._close_loop()
            super().__exit__(exc_type, exc_value, traceback)

    def _close_loop(self) -> None:
        self._stop_loop_thread()
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    def close(self) -> None:
        if not self._entered:
            self._close_loop()
        super().close()

    # -- requests --------------------------------------------------------------------------------------

    def _build(self, request: httpx.Request) -> tuple[RSGIScope, FakeHTTPProtocol]:
        raw_target = request.url.raw_path.decode("ascii")
        raw_path = raw_target.split("?", 1)[0]
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw]
        scope = RSGIScope(
            method=request.method.upper(),
            # Granian percent-decodes the path (lossy UTF-8, %2F becomes "/") and keeps the query raw.
            path=unquote(raw_path, errors="replace"),
            query_string=request.url.query.decode("ascii"),
            headers=RSGIHeaders(headers),
            scheme=request.url.scheme,
            server=self.server_addr,
            client=self.client_addr,
        )
        proto = FakeHTTPProtocol(request.read(), method=scope.method, chunk_size=self.body_chunk_size)
        ext = request.extensions
        if ext.get("rsgi.disconnect"):
            proto.disconnect()
        if ext.get("rsgi.disconnect_after_chunks") is not None:
            proto.disconnect_after_chunks = int(ext["rsgi.disconnect_after_chunks"])
        return scope, proto

    async def _run(self, scope: RSGIScope, proto: FakeHTTPProtocol) -> None:
        # Granian calls __rsgi__ when the object has it, else the object itself (a plain RSGI callable).
        entry = getattr(self.app, "__rsgi__", None) or self.app
        coro = entry(scope, proto)
        try:
            if self.app_timeout is None:
                await coro
            else:
                await asyncio.wait_for(coro, self.app_timeout)
        except TimeoutError as exc:
            raise AssertionError(f"app did not finish {scope.method} {scope.path} in {self.app_timeout}s") from exc
        except Exception as exc:
            # Granian logs "Application callable raised an exception" and answers 500 if nothing was sent.
            self.last_exception = exc
        finally:
            if proto.response is not None:
                proto.response.finished = True
        # Let cancellations requested by the app at the end of the request settle before checking.
        for _ in range(3):
            await asyncio.sleep(0)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        scope, proto = self._build(request)
        self.last_scope, self.last_protocol, self.last_exception = scope, proto, None
        if self._loop_thread is not None:  # WebSocket sessions keep the loop running in its own thread
            asyncio.run_coroutine_threadsafe(self._run(scope, proto), self.loop).result()
        else:
            self.loop.run_until_complete(self._run(scope, proto))
        status, headers, body, kind = proto.wire_response()
        if proto.violations:
            raise proto.violations[0]
        if self.check_disconnect_watchers and proto.pending_disconnect_waiters:
            # Granian wakes only one waiter per connection: a watcher left behind steals the next
            # request's disconnect notification (docs/rsgi-notes.md, G12). Cancel it when the response is done.
            raise AssertionError(
                f"{proto.pending_disconnect_waiters} client_disconnect() watcher(s) left pending after the app returned"
            )
        if self.last_exception is not None and self.raise_server_exceptions:
            raise self.last_exception
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"rsgi.kind": kind, "http_version": b"HTTP/1.1"},
        )

    # -- websockets --------------------------------------------------------------------------------------

    def websocket_connect(
        self,
        url: str,
        *,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        subprotocols: list[str] | None = None,
        timeout: float = 10.0,
    ) -> RSGIWebSocketSession:
        """Open a WebSocket to the app over the fake Granian websocket protocol.

        Use it as a context manager (``with client.websocket_connect("/ws") as ws:``); leaving the block
        closes the connection from the client side and waits for the app to end.

        Raises:
            WebSocketRejected: the app refused the handshake (``.status_code`` is the HTTP status).
        """
        target = httpx.URL(self.base_url.join(url))
        raw_path = target.raw_path.decode("ascii").split("?", 1)[0]
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        given = {k.lower() for k, _ in items}
        defaults = [("host", target.netloc.decode("ascii")), ("connection", "upgrade"), ("upgrade", "websocket"),
                    ("sec-websocket-version", "13"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]  # fmt: skip
        items = [(k, v) for k, v in defaults if k not in given] + items
        if subprotocols:
            items.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        scope = RSGIScope(
            method="GET",
            path=unquote(raw_path, errors="replace"),
            query_string=target.query.decode("ascii"),
            headers=RSGIHeaders([(k.lower(), v) for k, v in items]),
            scheme=target.scheme if target.scheme in ("http", "https") else "http",  # RSGI has no ws/wss
            proto="ws",
            server=self.server_addr,
            client=self.client_addr,
        )
        self.last_exception = None
        self._start_loop_thread()
        session = RSGIWebSocketSession(self, scope, timeout)
        session._start()
        return session

    async def _run_ws(self, scope: RSGIScope, proto: FakeWebSocketProtocol) -> None:
        entry = getattr(self.app, "__rsgi__", None) or self.app
        try:
            if self.app_timeout is None:
                await entry(scope, proto)
            else:
                await asyncio.wait_for(entry(scope, proto), self.app_timeout)
        except Exception as exc:  # Granian logs it and closes the connection
            self.last_exception = exc
        finally:
            proto.app_ended()

    def _start_loop_thread(self) -> None:
        self._open_sessions += 1
        if self._loop_thread is None:
            loop = self.loop
            self._loop_thread = threading.Thread(target=loop.run_forever, name="rsgi-test-loop", daemon=True)
            self._loop_thread.start()

    def _release_loop_thread(self) -> None:
        self._open_sessions -= 1
        if self._open_sessions <= 0:
            self._open_sessions = 0
            self._stop_loop_thread()

    def _stop_loop_thread(self) -> None:
        thread, self._loop_thread = self._loop_thread, None
        if thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(10)


__all__ = ["RSGITestClient", "RSGIWebSocketSession", "WebSocketClosed", "WebSocketRejected"]
