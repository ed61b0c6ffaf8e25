"""A fake of Granian's RSGI HTTP protocol (2.8.7, with hyper behind it) for in-process tests: the scope, its
headers, the protocol object for one request and its stream transport, and Granian's two protocol errors.

What is mimicked (``docs/rsgi-notes.md``): single-use body reads, the final ``b""`` body chunk, one response per
request, header-list validation, content-length and HEAD handling, Granian's own 404 for a missing file, the
empty 500 when the app fails, and ``client_disconnect`` waking one waiter only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any


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


__all__ = ["FakeHTTPProtocol", "RSGIHeaders", "RSGIProtocolClosed", "RSGIProtocolError", "RSGIScope"]
