"""ASGI adapter (uvicorn, ``granian --interface asgi``, httpx/TestClient): scope + receive/send in, events out.

Same shape as ``rsgi.py``: a request source, then ``__call__`` (translate, ``app.handle``, send by body kind),
then lifecycle (here, the ASGI lifespan protocol).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread

from gobstopper.adapter import BYTES as WS_BYTES
from gobstopper.adapter import (
    CLOSE,
    COMPLETE,
    NO_STATUS,
    STOPPED,
    TEXT,
    ChannelClosed,
    ClientDisconnect,
    Connection,
    pump,
)
from gobstopper.http.request import Request
from gobstopper.http.response import BODILESS_STATUSES, BYTES, FILE, Response

from ._signals import take_over_sigterm

_FILE_CHUNK = 64 * 1024


class RawHeaders:
    """A :class:`~gobstopper.adapter.HeaderSource` over ASGI's ``(bytes name, bytes value)`` pairs (names are
    lower case)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def get(self, name: str, default: Any = None) -> Any:
        key = name.lower().encode("latin-1")
        for n, v in self._raw:
            if n == key:
                return v.decode("latin-1")
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for n, v in self._raw if n == key]

    def items(self) -> list[tuple[str, str]]:
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw]


class ASGISource:
    """How the core reads an ASGI request (``scope`` is the ASGI scope dict, ``channel`` is ``receive``)."""

    def query_string(self, scope: Any) -> str:
        # The wire policy (gobstopper/http/_text.py): what Granian's RSGI scope gives for the same bytes.
        return scope["query_string"].decode("utf-8", "replace")

    def headers(self, scope: Any) -> RawHeaders:
        return RawHeaders(scope["headers"])

    def raw_headers(self, scope: Any) -> list[tuple[bytes, bytes]]:
        return list(scope["headers"])

    def connection(self, scope: Any) -> Connection:
        client, server = scope.get("client"), scope.get("server")
        return Connection(
            scope.get("scheme", "http"),
            (client[0], int(client[1])) if client else None,
            (server[0], int(server[1] or 0)) if server else None,
            scope.get("http_version", "1.1"),
            None,
        )

    def scheme(self, scope: Any) -> str:
        return scope.get("scheme", "http")

    async def body(self, scope: Any, receive: Any) -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.request":
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect("the client disconnected while sending the body")


SOURCE = ASGISource()


class ASGIWebSocketChannel:
    """The core's :class:`~gobstopper.adapter.WebSocketChannel` over ASGI websocket events (after
    ``websocket.connect``).

    A refused handshake gets its HTTP status through the ``websocket.http.response`` extension when the server
    offers it (uvicorn, granian, Starlette's TestClient); otherwise a close before accept, which servers answer
    with 403.
    """

    __slots__ = ("_answered", "_denial", "_receive", "_send")

    close_codes = True
    subprotocols = True

    def __init__(self, scope: Any, receive: Any, send: Any) -> None:
        self._receive = receive
        self._send = send
        self._denial = "websocket.http.response" in (scope.get("extensions") or {})
        self._answered = False  # the handshake got its 101 or its HTTP status

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        self._answered = True
        await self._send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": _encode_headers(headers, False)}
        )

    async def reject(self, status: int) -> None:
        if self._answered:
            return
        self._answered = True
        try:
            if self._denial:
                headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]
                await self._send({"type": "websocket.http.response.start", "status": status, "headers": headers})
                await self._send({"type": "websocket.http.response.body", "body": b""})
            else:
                await self._send({"type": "websocket.close", "code": 1008})
        except (OSError, RuntimeError):
            pass

    async def receive(self) -> tuple[str, str | bytes | int]:
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return TEXT, text
            return WS_BYTES, message.get("bytes") or b""
        # websocket.disconnect (servers send nothing else after connect)
        return CLOSE, message.get("code") or NO_STATUS

    async def send(self, data: str | bytes) -> None:
        key = "text" if type(data) is str else "bytes"
        try:
            await self._send({"type": "websocket.send", key: data})
        except (OSError, RuntimeError):  # uvicorn raises ClientDisconnected (an OSError), granian RuntimeError
            raise ChannelClosed() from None

    async def close(self, code: int, reason: str) -> None:
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError):
            pass

    def release(self) -> None:
        """Nothing to free here: the server owns the connection (same shape as the RSGI channel)."""


# An app sends a handful of content types and body lengths: each header is encoded once and shared.
_encoded_content_types: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_length_headers: dict[int, tuple[bytes, bytes]] = {}
_CACHE_LIMIT = 256


def _content_length(length: int) -> tuple[bytes, bytes]:
    header = _length_headers.get(length)
    if header is None:
        header = (b"content-length", b"%d" % length)
        if len(_length_headers) < _CACHE_LIMIT:
            _length_headers[length] = header
    return header


def _encode_headers(headers: list[tuple[str, str]], skip_length: bool = True) -> list[tuple[bytes, bytes]]:
    # UTF-8 values, as Granian's RSGI side sends them raw (docs/rsgi-notes.md §1.6): same bytes on the wire.
    encoded = []
    for header in headers:
        name, value = header
        if name == "content-type":
            pair = _encoded_content_types.get(header)
            if pair is None:
                pair = (b"content-type", value.encode())
                if len(_encoded_content_types) < _CACHE_LIMIT:
                    _encoded_content_types[header] = pair
            encoded.append(pair)
        elif not (skip_length and name == "content-length"):
            encoded.append((name.encode("latin-1"), value.encode()))
    return encoded


class ASGIAdapter:
    """Serves one Gobstopper app over ASGI."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._handle = app.handle
        self._settings = app.settings.http

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(receive, send)
            else:
                await self._serve_websocket(scope, receive, send)
            return
        method = scope["method"]
        request = Request(method, scope["path"], scope, receive, SOURCE, self.app, self._settings)
        response: Response = await self._handle(request)
        kind = response.kind
        if kind is BYTES:
            body = response.body
            if type(body) is str:
                body = body.encode()
            raw = response.raw_headers
            status = response.status
            # The common answer has just its content type, whose encoding is already known.
            encoded = _encoded_content_types.get(raw[0]) if len(raw) == 1 else None
            if status in BODILESS_STATUSES:  # the core already emptied the body (RFC 9110 §15.3.5, §15.4.5)
                headers = [encoded] if encoded is not None else _encode_headers(raw)
            else:
                length = _length_headers.get(len(body)) or _content_length(len(body))
                headers = [encoded, length] if encoded is not None else [*_encode_headers(raw), length]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        elif kind is FILE:
            await self._send_file(scope, method, response, send)
        else:
            await self._send_stream(method, response, receive, send)

    @staticmethod
    async def _send_file(scope: Any, method: str, response: Any, send: Any) -> None:
        headers = _encode_headers(response.raw_headers, skip_length=False)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        whole = response.status != 206
        if whole and "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": response.path})
            return
        # No pathsend: read in chunks off the event loop.
        with open(response.path, "rb") as file:
            await anyio.to_thread.run_sync(file.seek, response.start)
            remaining = response.end - response.start
            while remaining > 0:
                chunk = await anyio.to_thread.run_sync(file.read, min(_FILE_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:  # the file shrank under us: end the body rather than hang
            await send({"type": "http.response.body", "body": b""})

    async def _send_stream(self, method: str, response: Any, receive: Any, send: Any) -> None:
        headers = _encode_headers(response.raw_headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_chunk(chunk: bytes | str) -> None:
            body = chunk.encode() if type(chunk) is str else chunk
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        outcome = await pump(response.chunks(), send_chunk, disconnected, self.app)
        if outcome is COMPLETE or outcome is STOPPED:
            try:
                await send({"type": "http.response.body", "body": b""})
            except Exception:  # a write the server refused: the client left after the last chunk
                pass
        # FAILED: returning without the last body message makes the server close the connection without the
        # terminating chunk (a truncated body, RFC 9112 §7.1); DISCONNECTED: nobody is listening.

    async def _serve_websocket(self, scope: Any, receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return  # the client left before the handshake reached the app
        request = Request("GET", scope["path"], scope, None, SOURCE, self.app, self._settings)
        channel = ASGIWebSocketChannel(scope, receive, send)
        try:
            await self.app.handle_websocket(request, channel)
        finally:
            # Belt and braces (the core already answers every handshake).
            await channel.reject(500)
            channel.release()

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.startup()
                except Exception as exc:
                    self.app.logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                take_over_sigterm(self.app, asyncio.get_running_loop())  # under Granian only (``_signals``)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
