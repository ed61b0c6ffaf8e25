"""Test clients for Gobstopper apps.

- :class:`TestClient` drives the app through ASGI (Starlette's test client; the app object is itself an
  ASGI callable), including the lifespan protocol inside a ``with`` block.
- :class:`RSGITestClient` drives the app through RSGI with a fake Granian protocol that mimics what Granian
  2.8.7 and hyper do on the wire (see ``RSGI-NOTES.md``): decoded ``scope.path``, single-use body reads, the
  final ``b""`` body chunk, one response per request, header-list validation, content-length and HEAD
  handling, Granian's own 404 for a missing file and the empty 500 when the app fails.

This module must not import granian, uvicorn or ``gobstopper.adapters`` (the core layering rule).
"""

from __future__ import annotations

import asyncio
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
    import httpx  # type: ignore[no-redef]

with warnings.catch_warnings():
    # Starlette 1.x warns at import time when only httpx (not httpx2) is installed. The warning is about
    # Starlette's own dependency choice, not about our usage; keep it from failing `-W error` test runs.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from starlette.testclient import TestClient as _StarletteTestClient

__all__ = [
    "FakeHTTPProtocol",
    "httpx",
    "RSGIHeaders",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "RSGIScope",
    "RSGITestClient",
    "TestClient",
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
        super().__init__(_DecodePathOnce(app), *args, **kwargs)
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
        self.loop.run_until_complete(self._run(scope, proto))
        status, headers, body, kind = proto.wire_response()
        if proto.violations:
            raise proto.violations[0]
        if self.check_disconnect_watchers and proto.pending_disconnect_waiters:
            # Granian wakes only one waiter per connection: a watcher left behind steals the next
            # request's disconnect notification (RSGI-NOTES G12). Cancel it when the response is done.
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
