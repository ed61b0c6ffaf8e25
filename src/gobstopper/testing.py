"""Test clients for Gobstopper apps.

- :class:`TestClient` drives the app through ASGI (Starlette's test client; the app object is itself an
  ASGI callable), including the lifespan protocol inside a ``with`` block.
- :class:`RSGITestClient` drives the app through RSGI with a fake Granian protocol that mimics what Granian
  2.8.7 and hyper do on the wire (see ``docs/rsgi-notes.md``): decoded ``scope.path``, single-use body reads, the
  final ``b""`` body chunk, one response per request, header-list validation, content-length and HEAD
  handling, Granian's own 404 for a missing file and the empty 500 when the app fails.

This module must not import granian, uvicorn or ``gobstopper.adapters`` (the core layering rule).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

# Both clients return the same response type as Starlette's TestClient: httpx2 when installed (Starlette 1.x
# prefers it), else httpx. The two share one API.
try:
    import httpx2 as httpx
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    try:
        import httpx  # type: ignore[no-redef]
    except ModuleNotFoundError:
        message = "gobstopper.testing needs an httpx client: pip install 'gobstopper[testing]'"
        raise ModuleNotFoundError(message) from None

with warnings.catch_warnings():
    # Starlette 1.x warns at import time when only httpx (not httpx2) is installed. The warning is about
    # Starlette's own dependency choice, not about our usage; keep it from failing `-W error` test runs.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from starlette.testclient import TestClient as _StarletteTestClient

__all__ = [
    "FakeHTTPProtocol",
    "FakeWebSocketProtocol",
    "httpx",
    "RSGIHeaders",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "RSGIScope",
    "RSGITestClient",
    "RSGIWebSocketSession",
    "TestClient",
    "WebSocketClosed",
    "WebSocketRejected",
]


class _DecodePathOnce:
    """Give the app the ``path`` a real server would: ``raw_path`` percent-decoded exactly once.

    Starlette's test client unquotes ``httpx.URL.path``, which httpx has already decoded, so ``/%2541`` reached
    the app as ``/A`` instead of ``/%41`` (uvicorn and Granian both give ``/%41``).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw_path = scope.get("raw_path")
        if raw_path is not None and scope.get("type") in ("http", "websocket"):
            scope = {**scope, "path": unquote(raw_path.decode("latin-1"))}
        await self.app(scope, receive, send)


class TestClient(_StarletteTestClient):
    """Starlette's TestClient bound to a Gobstopper app (which is an ASGI app itself).

    ``with TestClient(app) as client:`` runs ASGI lifespan startup/shutdown around the block. The API is
    Starlette's (httpx's); the only difference is that ``scope["path"]`` is decoded once, as servers do.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(_DecodePathOnce(app), *args, **kwargs)  # type: ignore[arg-type]  # an ASGI 3 app
        self.app = app  # callers see their own app, not the wrapper


# --------------------------------------------------------------------------------------------------
# The fake Granian RSGI protocol
# --------------------------------------------------------------------------------------------------


class RSGIProtocolError(RuntimeError):
    """Mirrors ``granian.rsgi.ProtocolError`` (a ``RuntimeError``): misuse of the protocol object."""

    def __init__(self, message: str = "RSGI protocol error") -> None:
        super().__init__(message)


class RSGIProtocolClosed(RuntimeError):
    """Mirrors ``granian.rsgi.ProtocolClosed``: I/O on a transport whose client has gone."""

    def __init__(self, message: str = "RSGI transport is closed") -> None:
        super().__init__(message)


def _visible_ascii(value: str) -> bool:
    # Granian only exposes header values that decode as visible ASCII (plus space/tab).
    return all(c == "\t" or " " <= c <= "~" for c in value)


class RSGIHeaders:
    """Fake ``RSGIHeaders``: lower-case names, case-insensitive lookups, duplicates kept.

    ``get``/``[]`` return the first value, ``items()``/``values()`` every value, ``keys()``/``len()`` distinct
    names. Values with non-ASCII bytes are invisible to ``get``/``items``/``values`` (``[]`` gives ``""``),
    but their names still show in ``keys()``, as observed on Granian 2.8.7.
    """

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = [(k.lower(), v) for k, v in items]

    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self._items))

    def values(self) -> list[str]:
        return [v for _, v in self._items if _visible_ascii(v)]

    def items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self._items if _visible_ascii(v)]

    def get(self, key: str, default: Any = None) -> Any:
        key = key.lower()
        for k, v in self._items:
            if k == key:
                return v if _visible_ascii(v) else default
        return default

    def get_all(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self._items if k == key and _visible_ascii(v)]

    def __getitem__(self, key: str) -> str:
        key = key.lower()
        for k, v in self._items:
            if k == key:
                return v if _visible_ascii(v) else ""
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and any(k == key.lower() for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __repr__(self) -> str:
        return f"RSGIHeaders({self._items!r})"


@dataclass(frozen=True)
class RSGIScope:
    """Fake ``RSGIHTTPScope``. Granian builds these values in Rust; here they are plain attributes."""

    method: str
    path: str
    query_string: str
    headers: RSGIHeaders
    scheme: str = "http"
    proto: str = "http"
    http_version: str = "1.1"
    rsgi_version: str = "1.6"
    server: str = "127.0.0.1:8000"
    client: str = "127.0.0.1:12345"
    authority: str | None = None


@dataclass
class _Recorded:
    """What the app asked the fake server to send."""

    kind: str  # "empty" | "str" | "bytes" | "file" | "file_range" | "stream"
    status: int
    headers: list[tuple[str, str]]
    body: bytearray = field(default_factory=bytearray)
    file: str | None = None
    missing_file: bool = False
    finished: bool = False


class _StreamTransport:
    """Fake ``RSGIHTTPStreamTransport``. Like Granian, sends never block (no backpressure)."""

    def __init__(self, proto: FakeHTTPProtocol, recorded: _Recorded) -> None:
        self._proto = proto
        self._recorded = recorded
        self.chunks_sent = 0

    async def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            self._proto._violation(TypeError(f"send_bytes() needs bytes, got {type(data).__name__}"))
        self._send(bytes(data))

    async def send_str(self, data: str) -> None:
        if not isinstance(data, str):
            self._proto._violation(TypeError(f"send_str() needs str, got {type(data).__name__}"))
        self._send(data.encode("utf-8"))

    def _send(self, data: bytes) -> None:
        if self._proto._disconnected or self._recorded.finished:
            raise RSGIProtocolClosed()
        self._recorded.body += data
        if data:
            self.chunks_sent += 1
        limit = self._proto.disconnect_after_chunks
        if limit is not None and self.chunks_sent >= limit:
            self._proto.disconnect()


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _header_ok(name: str, value: str) -> bool:
    # hyper rejects names that are not tokens and values with CR, LF or NUL; Granian (>= 2.7.4) then
    # silently drops the header instead of failing the response.
    if not name or any(c not in _TOKEN_CHARS for c in name):
        return False
    return not any(c in value for c in "\r\n\x00")


class FakeHTTPProtocol:
    """Fake ``RSGIHTTPProtocol`` for one request.

    Violations of the protocol contract (headers that are not a list of ``(str, str)`` tuples, an invalid
    status) raise ``AssertionError`` at the call site and are also kept in :attr:`violations`, so the client
    reports them even if the app swallowed the exception.
    """

    def __init__(self, body: bytes = b"", *, method: str = "GET", chunk_size: int = 64 * 1024) -> None:
        self._body = body
        self._method = method.upper()
        self._chunk_size = max(1, chunk_size)
        self._consumed = False
        self._disconnected = False
        self._permit = False  # tokio Notify keeps one permit when nobody waits yet
        self._waiters: list[asyncio.Future[None]] = []
        self.response: _Recorded | None = None
        self.violations: list[BaseException] = []
        self.disconnect_after_chunks: int | None = None

    # -- contract checks ---------------------------------------------------------------------------

    def _violation(self, exc: BaseException) -> None:
        self.violations.append(exc)
        raise exc

    def _check(self, status: Any, headers: Any) -> list[tuple[str, str]]:
        if type(status) is not int or not 100 <= status <= 599:
            # Granian's Rust side unwraps the status: an invalid one panics and kills the worker.
            self._violation(AssertionError(f"RSGI status must be an int in 100..599, got {status!r}"))
        if not isinstance(headers, list):
            self._violation(AssertionError(f"RSGI headers must be a list, got {type(headers).__name__}"))
        for item in headers:
            if not (isinstance(item, tuple) and len(item) == 2 and all(type(x) is str for x in item)):
                self._violation(AssertionError(f"RSGI header must be a (str, str) tuple, got {item!r}"))
        # Names go on the wire lower-cased; unparsable headers are dropped, as Granian does.
        return [(k.lower(), v) for k, v in headers if _header_ok(k, v)]

    def _claim(self, kind: str, status: Any, headers: Any) -> _Recorded | None:
        checked = self._check(status, headers)
        if self.response is not None:
            return None  # only the first response call counts; later ones are silently ignored
        self.response = _Recorded(kind=kind, status=status, headers=checked)
        return self.response

    # -- request body --------------------------------------------------------------------------------

    def _take_body(self) -> None:
        if self._consumed:
            raise RSGIProtocolError()
        self._consumed = True

    async def __call__(self) -> bytes:
        self._take_body()
        return self._body

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._take_body()
        return self._iter_body()

    async def _iter_body(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self._body), self._chunk_size):
            yield self._body[i : i + self._chunk_size]
        yield b""  # Granian always ends the iteration with an empty chunk

    # -- disconnect ------------------------------------------------------------------------------------

    async def client_disconnect(self) -> None:
        if self._permit:
            self._permit = False
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def disconnect(self) -> None:
        """Simulate the client closing the TCP connection (``notify_one``: only one waiter wakes)."""
        self._disconnected = True
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
                return
        self._permit = True

    @property
    def pending_disconnect_waiters(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    # -- responses (sync, like Granian's) -------------------------------------------------------------

    def response_empty(self, status: int = 200, headers: list[tuple[str, str]] | None = None) -> None:
        self._claim("empty", status, [] if headers is None else headers)

    def response_str(self, status: int = 200, headers: list[tuple[str, str]] | None = None, body: str = "") -> None:
        if not isinstance(body, str):
            self._violation(TypeError(f"response_str() body must be str, got {type(body).__name__}"))
        rec = self._claim("str", status, [] if headers is None else headers)
        if rec is not None:
            rec.body += body.encode("utf-8")

    def response_bytes(
        self, status: int = 200, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> None:
        if not isinstance(body, (bytes, bytearray, memoryview)):
            self._violation(TypeError(f"response_bytes() body must be bytes, got {type(body).__name__}"))
        rec = self._claim("bytes", status, [] if headers is None else headers)
        if rec is not None:
            rec.body += bytes(body)

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        if not isinstance(file, str):
            self._violation(TypeError(f"response_file() path must be str, got {type(file).__name__}"))
        rec = self._claim("file", status, headers)
        if rec is not None:
            rec.file = file
            self._read_file(rec, file, None, None)

    def response_file_range(self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int) -> None:
        if not isinstance(file, str):
            self._violation(TypeError(f"response_file_range() path must be str, got {type(file).__name__}"))
        if start >= end:
            raise ValueError("start must be less than end")
        rec = self._claim("file_range", status, headers)
        if rec is not None:
            rec.file = file
            self._read_file(rec, file, start, end)

    def _read_file(self, rec: _Recorded, path: str, start: int | None, end: int | None) -> None:
        try:
            with open(path, "rb") as fh:
                if start is not None and end is not None:
                    fh.seek(start)
                    rec.body += fh.read(end - start)
                else:
                    rec.body += fh.read()
        except OSError:
            # Granian answers with its own 404 and throws the app's headers away.
            rec.missing_file = True
            rec.status = 404
            rec.headers = []
            rec.kind = "bytes"
            rec.body = bytearray(b"Not found")

    def response_stream(self, status: int = 200, headers: list[tuple[str, str]] | None = None) -> _StreamTransport:
        if self.response is not None:
            raise RSGIProtocolError()
        rec = self._claim("stream", status, [] if headers is None else headers)
        assert rec is not None
        return _StreamTransport(self, rec)

    # -- what the client receives ------------------------------------------------------------------

    def wire_response(self) -> tuple[int, list[tuple[str, str]], bytes, str]:
        """Status, headers and body as hyper would put them on the wire (minus date/server)."""
        rec = self.response
        if rec is None:
            rec = _Recorded(kind="empty", status=500, headers=[])
        status, headers, body = rec.status, list(rec.headers), bytes(rec.body)
        head = self._method == "HEAD"
        app_cl = [v for k, v in headers if k == "content-length"]
        # hyper sends no body for 1xx/204/304 and never computes a length for them (an app's is kept).
        no_body = status < 200 or status in (204, 304)
        if rec.kind in ("bytes", "str"):
            if app_cl and not head and not no_body and app_cl[0] != str(len(body)):
                # hyper writes the app's wrong length as is and corrupts the keep-alive connection.
                self.violations.append(
                    AssertionError(f"app set content-length {app_cl[0]} but the body has {len(body)} bytes")
                )
            if not app_cl and not no_body:
                headers.append(("content-length", str(len(body))))
        elif rec.kind == "empty" and not head:
            # hyper drops the app's length on an empty non-HEAD response (and sends 0 where a body is allowed).
            headers = [(k, v) for k, v in headers if k != "content-length"]
            if not no_body:
                headers.append(("content-length", "0"))
        # file, file_range, stream: the app owns the headers (no content-length means chunked).
        if head or no_body:
            body = b""
        return status, headers, body, rec.kind


# --------------------------------------------------------------------------------------------------
# The fake Granian RSGI websocket protocol (docs/rsgi-notes.md §1.5, G13-G15)
# --------------------------------------------------------------------------------------------------


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


class _WSDataMessage:
    """Fake ``RSGIWebsocketMessage`` for data: ``kind`` 1 (bytes) or 2 (str) and ``data``."""

    __slots__ = ("data", "kind")

    def __init__(self, kind: int, data: str | bytes) -> None:
        self.kind = kind
        self.data = data


class _WSCloseMessage:
    """Fake close message: ``kind`` 0 and, as in Granian, no ``data`` attribute at all."""

    __slots__ = ("kind",)

    def __init__(self) -> None:
        self.kind = 0


_APP_CLOSED = object()
_PEER_CLOSED = object()


class FakeWebSocketTransport:
    """Fake ``RSGIWebsocketTransport`` (what ``accept()`` returns)."""

    def __init__(self, proto: FakeWebSocketProtocol) -> None:
        self._proto = proto
        self._receiving = False

    async def receive(self) -> _WSDataMessage | _WSCloseMessage:
        proto = self._proto
        if self._receiving:
            raise RSGIProtocolError()  # two tasks receiving at once (docs/rsgi-notes.md, G15)
        if proto.peer_close_delivered or proto.app_closed:
            raise RSGIProtocolClosed()  # receive() after the close (docs/rsgi-notes.md, G15)
        self._receiving = True
        try:
            item = await proto._inbound.get()
        finally:
            self._receiving = False
        if item is _PEER_CLOSED:
            proto.peer_close_delivered = True
            return _WSCloseMessage()
        if item is _APP_CLOSED:
            raise RSGIProtocolClosed()
        kind, data = item
        return _WSDataMessage(kind, data)

    async def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            self._proto._violation(TypeError(f"send_bytes() needs bytes, got {type(data).__name__}"))
        await self._send("bytes", bytes(data))

    async def send_str(self, data: str) -> None:
        if not isinstance(data, str):
            self._proto._violation(TypeError(f"send_str() needs str, got {type(data).__name__}"))
        await self._send("text", data)

    async def _send(self, kind: str, data: str | bytes) -> None:
        proto = self._proto
        # Granian's websocket sends wait once the client stops reading (about 6 MiB in flight was observed).
        while proto.unread_bytes > proto.buffer_bytes and not (proto.app_closed or proto.peer_closed):
            proto._room.clear()
            await proto._room.wait()
        if proto.app_closed:
            raise RSGIProtocolError()  # after the app's own close()
        if proto.peer_closed:
            raise RSGIProtocolClosed()  # after the peer closed
        proto.unread_bytes += len(data)
        proto._emit((kind, data))


class FakeWebSocketProtocol:
    """Fake ``RSGIWebsocketProtocol`` for one connection, as Granian 2.8.7 behaves.

    ``await accept()`` takes no arguments and returns the transport. ``close(status)`` is sync: before
    ``accept()`` ``status`` is the handshake's HTTP status and must be a valid one (Granian <= 2.8.5 panics on
    ``None``, killing the worker: a protocol violation here); after ``accept()`` it is ignored and the client
    sees a close without a code (1005). The app ending before ``accept()`` without ``close(status)`` is a
    violation too (docs/rsgi-notes.md, G13).
    """

    def __init__(self, emit: Callable[[tuple[Any, ...]], None], buffer_bytes: int = 4 * 1024 * 1024) -> None:
        self._emit = emit
        self._inbound: asyncio.Queue[Any] = asyncio.Queue()
        self._room = asyncio.Event()
        self.buffer_bytes = buffer_bytes  # sends wait while the client has more than this unread
        self.unread_bytes = 0
        self.accepted = False
        self.rejected_status: int | None = None
        self.app_closed = False
        self.peer_closed = False
        self.peer_close_delivered = False
        self.violations: list[BaseException] = []

    def _violation(self, exc: BaseException) -> None:
        self.violations.append(exc)
        raise exc

    async def accept(self) -> FakeWebSocketTransport:
        if self.accepted or self.rejected_status is not None:
            raise RSGIProtocolError()
        self.accepted = True
        self._emit(("accept",))
        return FakeWebSocketTransport(self)

    def close(self, status: int | None = None) -> None:
        if not self.accepted:
            if self.rejected_status is not None:
                return
            if type(status) is not int or not 100 <= status <= 599:
                self._violation(
                    AssertionError(
                        f"close({status!r}) before accept(): Granian needs an HTTP status here"
                        " (<= 2.8.5 panics with InvalidStatusCode and the worker dies)"
                    )
                )
            self.rejected_status = status
            self._emit(("reject", status))
            return
        if self.app_closed:
            return
        self.app_closed = True
        self._room.set()
        self._inbound.put_nowait(_APP_CLOSED)  # a pending receive() fails
        self._emit(("close", None))  # no code reaches the client after accept()

    # -- the client side (called on the loop) ----------------------------------------------------------

    def client_send(self, data: str | bytes) -> None:
        if self.peer_closed or self.app_closed:
            return
        self._inbound.put_nowait((2, data) if isinstance(data, str) else (1, bytes(data)))

    def client_close(self) -> None:
        if self.peer_closed:
            return
        self.peer_closed = True
        self._room.set()
        self._inbound.put_nowait(_PEER_CLOSED)

    def client_consumed(self, n: int) -> None:
        self.unread_bytes -= n
        self._room.set()

    def app_ended(self) -> None:
        """Granian's part when the app coroutine returns: ``close(None)``."""
        if not self.accepted and self.rejected_status is None:
            self.violations.append(
                AssertionError(
                    "the app ended before accept() without close(status): Granian <= 2.8.5 kills the worker"
                    " here (2.8.7 answers 403)"
                )
            )
            self.rejected_status = 403
            self._emit(("reject", 403))
        elif self.accepted and not self.app_closed:
            self.app_closed = True
            if not self.peer_closed:
                self._emit(("close", None))


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


# --------------------------------------------------------------------------------------------------
# The RSGI test client
# --------------------------------------------------------------------------------------------------


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
        except asyncio.TimeoutError as exc:
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
