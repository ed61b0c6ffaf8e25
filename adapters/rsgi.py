"""RSGI (Granian) adapter: scope + protocol in, ``response_*`` calls out.

Same shape as ``asgi.py``: a request source, then ``__call__`` (translate, ``app.handle``, send by body kind),
then lifecycle. Scope attributes are Rust getters that allocate on every access, so each is read once and
only when the core asks (docs/rsgi-notes.md §1.2).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gobstopper.adapter import (
    ABNORMAL_CLOSURE,
    CLOSE,
    NO_STATUS,
    TEXT,
    ChannelClosed,
    ClientDisconnect,
    Connection,
    pump,
)
from gobstopper.adapter import BYTES as WS_BYTES
from gobstopper.http.request import Request
from gobstopper.http.response import BYTES, FILE, Response

from ._signals import take_over_sigterm


def parse_host_port(value: str) -> tuple[str, int] | None:
    """``"1.2.3.4:80"`` / ``"[::1]:80"`` -> ``(host, port)``; ``None`` for anything else (Unix sockets...)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class RSGISource:
    """How the core reads an RSGI request (``scope`` is the RSGI scope, ``channel`` the HTTP protocol)."""

    def query_string(self, scope: Any) -> str:
        return scope.query_string

    def headers(self, scope: Any) -> Any:
        return scope.headers  # RSGIHeaders already has get / get_all / items

    def raw_headers(self, scope: Any) -> list[tuple[bytes, bytes]]:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()]

    def connection(self, scope: Any) -> Connection:
        return Connection(
            scope.scheme,
            parse_host_port(scope.client),
            parse_host_port(scope.server),
            scope.http_version,
            scope.authority,
        )

    def scheme(self, scope: Any) -> str:
        return scope.scheme

    def body(self, scope: Any, protocol: Any) -> AsyncIterator[bytes]:
        # How the body's end is judged depends on the HTTP version: read here, only for requests whose body is read.
        return self._body(protocol, scope.http_version not in ("2", "3"))

    @staticmethod
    async def _body(protocol: Any, http1: bool) -> AsyncIterator[bytes]:
        # Granian's iterator ends with one empty chunk (G10) when the body ended well. When hyper reports a broken
        # body (bad chunk framing, a malformed trailer, a connection closed before Content-Length was reached) the
        # iterator gives an empty chunk for the error and then the empty end, and nothing else tells it apart
        # (docs/deployment.md, "Malformed framing"). Over HTTP/1 that shape is also what trailer fields give, so
        # a body followed by anything after its first empty chunk is refused: a broken body must never look
        # complete. Over HTTP/2 an empty DATA frame is legal and the framing is the protocol's own.
        ended = False
        try:
            async for chunk in protocol:
                if ended and http1:
                    raise ClientDisconnect(_BROKEN_BODY)
                if chunk:
                    yield chunk
                else:
                    ended = True
        except RuntimeError as exc:  # RSGIProtocolClosed / RSGIProtocolError are RuntimeErrors
            raise ClientDisconnect(str(exc)) from None


_BROKEN_BODY = (
    "The request body ended abnormally: broken chunked framing, a connection closed early, or trailer fields "
    "(not accepted over HTTP/1.1 under Granian RSGI, which cannot tell them from a broken body)."
)


SOURCE = RSGISource()


class RSGIWebSocketChannel:
    """The core's :class:`~gobstopper.adapter.WebSocketChannel` over Granian's websocket protocol
    (``docs/rsgi-notes.md``).

    RSGI cannot send a subprotocol, handshake headers or (after ``accept()``) a close code or reason, and the
    peer's close code is not exposed either: a peer close reads as 1005.
    """

    __slots__ = ("_answered", "_protocol", "_transport")

    close_codes = False
    subprotocols = False

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport: Any = None
        self._answered = False  # the handshake got its 101 or its HTTP status

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        self._answered = True
        self._transport = await self._protocol.accept()  # takes no arguments (docs/rsgi-notes.md, G14)

    async def reject(self, status: int) -> None:
        if self._answered or self._protocol is None:
            return
        self._answered = True
        try:
            self._protocol.close(status)  # sync; before accept() this is the HTTP status. Never None (G13)
        except RuntimeError:
            pass

    async def receive(self) -> tuple[str, str | bytes | int]:
        # No local reference to the transport: a cancelled read's traceback must not keep it alive (release()).
        if self._transport is None:
            return CLOSE, ABNORMAL_CLOSURE
        try:
            message = await self._transport.receive()
        except RuntimeError:  # RSGIProtocolClosed / RSGIProtocolError (docs/rsgi-notes.md, G15)
            return CLOSE, ABNORMAL_CLOSURE
        kind = message.kind
        if kind == 2:
            return TEXT, message.data
        if kind == 1:
            return WS_BYTES, message.data
        return CLOSE, NO_STATUS  # kind 0 has no .data and no code (docs/rsgi-notes.md, G13, G15)

    async def send(self, data: str | bytes) -> None:
        if self._transport is None:
            raise ChannelClosed()
        try:
            if type(data) is str:
                await self._transport.send_str(data)  # one text message, whatever its size
            else:
                await self._transport.send_bytes(data)
        except RuntimeError:
            raise ChannelClosed() from None

    async def close(self, code: int, reason: str) -> None:
        protocol = self._protocol
        if protocol is not None:
            try:
                protocol.close(code)  # after accept() Granian ignores the value: the peer sees 1005 (G13)
            except RuntimeError:
                pass
        self.release()

    def release(self) -> None:
        """Drop the protocol objects. Granian sends the close frame only once the app has returned *and* its
        websocket objects are freed (observed on 2.8.7): a WebSocket kept alive by a reference cycle or a
        manager would otherwise hold the connection open until the garbage collector runs."""
        self._protocol = self._transport = None


def _without_content_length(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # hyper computes the length of bytes/str bodies; a wrong one from the app corrupts keep-alive (G6).
    return [h for h in headers if h[0] != "content-length"]


class RSGIAdapter:
    """Serves one Gobstopper app over RSGI."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._handle = app.handle
        self._settings = app.settings.http

    async def __call__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            await self._serve_websocket(scope, protocol)
            return
        method = scope.method
        request = Request(method, scope.path, scope, protocol, SOURCE, self.app, self._settings)
        response: Response = await self._handle(request)
        kind = response.kind
        if kind is BYTES:
            headers = response.raw_headers
            if len(headers) > 1:
                headers = _without_content_length(headers)
            body = response.body
            if type(body) is str:
                protocol.response_str(response.status, headers, body)
            else:
                protocol.response_bytes(response.status, headers, body)
        elif kind is FILE:
            self._send_file(method, response, protocol)
        else:
            await self._send_stream(method, response, protocol)

    @staticmethod
    def _send_file(method: str, response: Any, protocol: Any) -> None:
        headers = response.raw_headers
        if method == "HEAD":
            protocol.response_empty(response.status, headers)  # don't make Granian open the file (G7)
        elif response.status == 206:
            protocol.response_file_range(response.status, headers, response.path, response.start, response.end)
        else:
            protocol.response_file(response.status, headers, response.path)

    async def _send_stream(self, method: str, response: Any, protocol: Any) -> None:
        transport = protocol.response_stream(response.status, _without_content_length(response.raw_headers))
        if method == "HEAD":
            return

        async def send(chunk: bytes | str) -> None:
            if type(chunk) is str:
                await transport.send_str(chunk)
            else:
                await transport.send_bytes(chunk)

        await pump(response.chunks(), send, protocol.client_disconnect, self.app)
        # Whatever the outcome, Granian ends the body when the transport is freed, which is when this returns (pump
        # cleared the frames of a failure's traceback). RSGI's stream transport cannot abort a body, so after a
        # failure the terminating chunk still goes out (docs/sse.md, "A stream that fails"); ASGI servers omit it.

    async def _serve_websocket(self, scope: Any, protocol: Any) -> None:
        request = Request("GET", scope.path, scope, None, SOURCE, self.app, self._settings)
        channel = RSGIWebSocketChannel(protocol)
        try:
            await self.app.handle_websocket(request, channel)
        finally:
            # Belt and braces (the core already answers every handshake): never let Granian end one without
            # an explicit status (docs/rsgi-notes.md, G13). Then let go of Granian's objects so the close frame
            # goes out now.
            await channel.reject(500)
            channel.release()

    # -- lifecycle: RSGI has no lifespan protocol, only these two per-worker hooks (docs/rsgi-notes.md §1.9) --

    def init(self, loop: asyncio.AbstractEventLoop) -> None:
        """``__rsgi_init__``: start the app; a failure raises, so the worker exits like an ASGI startup failure.
        Then take SIGTERM over, so open WebSockets get their close frame before Granian stops (``_signals``)."""
        if loop.is_running():  # Granian's embedded server calls this with its loop running
            loop.create_task(self.app.startup())
        else:
            loop.run_until_complete(self.app.startup())
            take_over_sigterm(self.app, loop)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """``__rsgi_del__``: drain and run the shutdown handlers."""
        if loop.is_running():
            loop.create_task(self.app.shutdown())
        else:
            loop.run_until_complete(self.app.shutdown())
