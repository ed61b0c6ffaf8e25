"""The WebSocket connection API handlers see, the same under Granian RSGI, Granian ASGI and uvicorn.

A connection owns two small tasks once accepted: a reader (enforces the message size limit, keeps the
liveness clock, feeds a bounded inbox) and a writer (drains a bounded send queue into the adapter's channel, so
a slow peer fills its own queue and is closed instead of stalling senders or growing memory). An optional
watchdog runs the application-level heartbeat / idle timeout. The core talks to the server only through a
:class:`~gobstopper.adapter.WebSocketChannel` (``docs/architecture.md``). The messages and their checks are in
:mod:`.messages`, the two queues in :mod:`._queues`; this module re-exports the message names it always exported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from starlette.datastructures import Headers, QueryParams

from .._json_depth import json_too_deep
from ..adapter import (
    ABNORMAL_CLOSURE,
    BYTES,
    CLOSE,
    GOING_AWAY,
    INTERNAL_ERROR,
    MESSAGE_TOO_BIG,
    NO_STATUS,
    NORMAL_CLOSURE,
    POLICY_VIOLATION,
    TEXT,
    ChannelClosed,
    WebSocketChannel,
)
from ._queues import Inbox, Outbox
from ._settings import WebSocketSettings
from .messages import ConnectionClosed, WebSocketDisconnect, WebSocketMessage, check_close, too_big

if TYPE_CHECKING:
    from ..http.request import Request

#: The logger a connection uses when it is given none (dispatch gives it the app's).
_default_logger = logging.getLogger("gobstopper.websocket")

CONNECTING = "connecting"
OPEN = "open"
CLOSING = "closing"
CLOSED = "closed"

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


class WebSocket:
    """One WebSocket connection.

    Handlers registered with ``@app.websocket(path)`` receive it as their first argument, followed by the
    path parameters. Check what you need (headers, ``query_params``, cookies), then :meth:`accept` or refuse
    (:meth:`close` or :meth:`reject` before accepting, or raise an ``HTTPException`` such as ``abort(401)``):
    a handshake that is not accepted is always answered with an explicit HTTP status.

    Attributes:
        request: the handshake as a :class:`~gobstopper.http.request.Request` (headers, cookies, client;
            ``websocket.app`` is the application).
        path_params: the converted path parameters.
        scope: the server's scope object (protocol specific; prefer the properties below).
        subprotocol: the subprotocol chosen in :meth:`accept` (ASGI only).
        close_code: the close code once closed (what the app sent, or what the peer sent).
        close_reason: the close reason once closed.
        logger: where the connection logs its failures (the app's logger when dispatch creates it).

    Example:
        >>> @app.websocket("/ws/echo")
        ... async def echo(websocket):
        ...     await websocket.accept()
        ...     async for message in websocket:
        ...         await websocket.send(f"Echo: {message}")
    """

    def __init__(
        self,
        request: Request,
        channel: WebSocketChannel,
        path_params: dict[str, Any] | None = None,
        settings: WebSocketSettings | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.request = request
        self.scope = request._scope
        self.path_params: dict[str, Any] = path_params if path_params is not None else {}
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.settings = settings if settings is not None else WebSocketSettings()
        self.logger = logger if logger is not None else _default_logger
        self._channel = channel
        self._state = CONNECTING
        self._inbox: Inbox | None = None
        self._outbox: Outbox | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closer: asyncio.Task[Any] | None = None
        self._last_seen = 0.0
        self._final_queued = False
        self._close_delivered = False
        self._receiving = False
        self._query_params: QueryParams | None = None

    def __repr__(self) -> str:
        return f"<WebSocket {self.path!r} {self._state}>"

    # -- the handshake ------------------------------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The application serving this connection (``websocket.request.app``, as ``request.app`` is for HTTP)."""
        return self.request.app

    @property
    def path(self) -> str:
        """The request path (decoded; relative to a mount point)."""
        return self.request.path

    @property
    def query_string(self) -> str:
        """The raw query string, without ``?``."""
        return self.request.query_string

    @property
    def query_params(self) -> QueryParams:
        """Query parameters (``websocket.query_params.get("token")``)."""
        params = self._query_params
        if params is None:
            limit = self.request.settings.max_query_params
            try:
                pairs = parse_qsl(self.query_string, keep_blank_values=True, max_num_fields=limit)
            except ValueError:
                pairs = []  # over the cap: no parameters rather than a crash mid-connection
            params = self._query_params = QueryParams(pairs)
        return params

    @property
    def args(self) -> dict[str, list[str]]:
        """Query parameters as ``{name: [values]}`` (like ``request.args``)."""
        return self.request.args

    @property
    def headers(self) -> Headers:
        """The handshake's request headers (case-insensitive)."""
        return self.request.headers

    @property
    def cookies(self) -> dict[str, str]:
        """The handshake's cookies."""
        return self.request.cookies

    @property
    def client(self) -> tuple[str, int] | None:
        """The peer's ``(host, port)``, when known."""
        return self.request.connection.client

    @property
    def client_ip(self) -> str:
        """The client's IP address (``X-Forwarded-For`` only from ``app.trusted_proxies``)."""
        return self.request.client_ip

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header of the handshake (browsers always send it)."""
        return self.request.header("origin")

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (``Sec-WebSocket-Protocol``), in its order of preference."""
        offered = ",".join(self.request.header_all("sec-websocket-protocol"))
        return [p.strip() for p in offered.split(",") if p.strip()]

    @property
    def connection_state(self) -> str:
        """``"connecting"``, ``"open"``, ``"closing"`` or ``"closed"``."""
        return self._state

    @property
    def accepted(self) -> bool:
        """Whether :meth:`accept` completed (it stays true after the close)."""
        return self._inbox is not None

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (or closing, or was refused)."""
        return self._state in (CLOSING, CLOSED)

    async def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] | None = None) -> None:
        """Complete the handshake. Call it once, before sending or receiving.

        Args:
            subprotocol: the subprotocol to announce (one of :attr:`subprotocols`). ASGI servers only.
            headers: extra response headers for the handshake. ASGI servers only.

        Raises:
            RuntimeError: called twice or after a close, or a subprotocol/headers under RSGI, which cannot send
                them (Granian's ``accept()`` takes no arguments): run such apps under ASGI.
        """
        if self._state != CONNECTING:
            raise RuntimeError(f"accept() on a WebSocket that is already {self._state}")
        header_list = [(str(k), str(v)) for k, v in (headers or ())]
        if (subprotocol is not None or header_list) and not self._channel.subprotocols:
            raise RuntimeError(
                "this server protocol (RSGI) cannot send a subprotocol or headers with the WebSocket handshake;"
                " serve the app over ASGI (uvicorn, granian --interface asgi) to use them"
            )
        await self._channel.accept(subprotocol, header_list)
        self.subprotocol = subprotocol
        s = self.settings
        self._inbox = Inbox(s.receive_queue_size)
        self._outbox = Outbox(s.send_queue_size, s.send_queue_bytes)
        self._state = OPEN
        self._last_seen = asyncio.get_running_loop().time()
        self._tasks = [asyncio.ensure_future(self._read_loop()), asyncio.ensure_future(self._write_loop())]
        if s.heartbeat_interval or s.idle_timeout:
            self._tasks.append(asyncio.ensure_future(self._watch()))

    async def reject(self, status_code: int = 403) -> None:
        """Refuse the handshake with HTTP ``status_code`` (before :meth:`accept` only)."""
        if self._state != CONNECTING:
            raise RuntimeError("reject() is only possible before accept()")
        if not 400 <= status_code <= 599:
            raise ValueError(f"a refused handshake needs a 4xx/5xx status, not {status_code}")
        self._state = CLOSED
        self.close_code = status_code
        await self._channel.reject(status_code)

    # -- receiving ------------------------------------------------------------------------------------------

    async def _next(self) -> WebSocketMessage:
        inbox = self._inbox
        if inbox is None:
            if self._state == CONNECTING:
                raise RuntimeError("call accept() before receiving")
            raise WebSocketDisconnect(self.close_code or POLICY_VIOLATION, "the handshake was refused")
        if self._close_delivered:
            raise WebSocketDisconnect(self.close_code or NO_STATUS, self.close_reason)
        if self._receiving:
            raise RuntimeError("another task is already waiting in receive() on this WebSocket")
        self._receiving = True
        try:
            message = await inbox.get()
        finally:
            self._receiving = False
        if message.type == CLOSE:
            self._close_delivered = True
        return message

    async def receive(self) -> WebSocketMessage:
        """The next message: ``.type`` is ``"text"``, ``"bytes"`` or ``"close"`` and ``.data`` its content.

        The close is returned once as a ``"close"`` message (with ``.code``); receiving again raises
        :class:`WebSocketDisconnect`.
        """
        return await self._next()

    async def receive_text(self) -> str:
        """The next message as text (a binary one is decoded as UTF-8, U+FFFD for invalid bytes).

        Raises:
            WebSocketDisconnect: the connection closed.
        """
        message = await self._next()
        if message.type == CLOSE:
            raise WebSocketDisconnect(message.code or NO_STATUS, message.reason)
        data = message.data
        return data if isinstance(data, str) else data.decode("utf-8", "replace")  # type: ignore[union-attr]

    async def receive_bytes(self) -> bytes:
        """The next message as bytes (a text one is encoded as UTF-8).

        Raises:
            WebSocketDisconnect: the connection closed.
        """
        message = await self._next()
        if message.type == CLOSE:
            raise WebSocketDisconnect(message.code or NO_STATUS, message.reason)
        data = message.data
        return data.encode("utf-8") if isinstance(data, str) else data  # type: ignore[return-value]

    async def receive_json(self, model: Any = None) -> Any:
        """The next message decoded as JSON, into ``model`` (a ``msgspec.Struct`` or any msgspec type) if given.

        Nesting is bounded as for HTTP bodies (``request.max_json_depth``, 128 levels by default): deeper text never
        reaches the decoder, whose recursion limit depends on the interpreter.

        Raises:
            WebSocketDisconnect: the connection closed.
            ValueError: the message is not JSON, nests deeper than the limit, or does not fit ``model``
                (``msgspec.DecodeError`` and ``msgspec.ValidationError`` are ``ValueError``); the connection stays
                open.
        """
        message = await self._next()
        if message.type == CLOSE:
            raise WebSocketDisconnect(message.code or NO_STATUS, message.reason)
        data = message.data
        assert data is not None
        limit = self.request.max_json_depth
        raw = data.encode() if isinstance(data, str) else data
        if json_too_deep(raw, limit):
            raise ValueError(f"The JSON message nests deeper than {limit} levels.")
        try:
            return _json_decoder.decode(raw) if model is None else msgspec.json.decode(raw, type=model)
        except (RecursionError, UnicodeDecodeError) as exc:  # as for HTTP bodies: the sender's fault, not ours
            raise ValueError(f"Invalid JSON message: {exc}") from None

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> WebSocketMessage:
        try:
            message = await self._next()
        except WebSocketDisconnect:
            raise StopAsyncIteration from None
        if message.type == CLOSE:
            raise StopAsyncIteration
        return message

    def receive_iter(self) -> AsyncIterator[WebSocketMessage]:
        """Messages until the close (the reference's spelling of ``async for message in websocket``)."""
        return self

    async def iter_text(self) -> AsyncIterator[str]:
        """Each message as text, until the close."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Each message as bytes, until the close."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        """Each message decoded as JSON, until the close."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    # -- sending ---------------------------------------------------------------------------------------------

    def _not_open(self) -> Exception:
        if self._state == CONNECTING:
            return RuntimeError("call accept() before sending")
        return WebSocketDisconnect(self.close_code or ABNORMAL_CLOSURE, self.close_reason)

    async def _send(self, data: str | bytes) -> None:
        if self._state != OPEN:
            raise self._not_open()
        outbox = self._outbox
        assert outbox is not None
        n = len(data)
        if not outbox.fits(n):
            # Backpressure: wait for the writer, but not forever. A peer that does not read for
            # ``send_timeout`` seconds is a slow consumer: close it rather than buffer without bound.
            try:
                await asyncio.wait_for(outbox.wait_room(n), self.settings.send_timeout)
            except TimeoutError:
                await self._close(POLICY_VIOLATION, "slow consumer", flush=False)
                raise WebSocketDisconnect(POLICY_VIOLATION, "slow consumer") from None
            if self._state != OPEN:
                raise self._not_open()
        outbox.push(data, n)

    async def send_text(self, data: str) -> None:
        """Send ``data`` as one text message, whatever its size (it is never split into binary frames).

        Returns once the message is queued; messages go out in order. When the send queue is full this waits
        for room (``WS_SEND_TIMEOUT`` seconds at most, then the peer is closed as a slow consumer, 1008).

        Raises:
            RuntimeError: before :meth:`accept`.
            WebSocketDisconnect: the connection is closed.
        """
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes str, not {type(data).__name__}")
        await self._send(data)

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as one binary message (same queueing as :meth:`send_text`)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}")
        await self._send(bytes(data))

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a ``str`` as a text message or bytes as a binary message."""
        if isinstance(data, str):
            await self._send(data)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            await self._send(bytes(data))
        else:
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__} (use send_json() for data)")

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` encoded as JSON (msgspec), as a text message or, with ``mode="binary"``, a binary one."""
        encoded = _json_encoder.encode(data)
        if mode == "text":
            await self._send(encoded.decode("utf-8"))
        elif mode == "binary":
            await self._send(encoded)
        else:
            raise ValueError('mode must be "text" or "binary"')

    def offer(self, data: str | bytes) -> bool:
        """Queue ``data`` without waiting (for broadcasts): ``False`` when the connection is closed, or when
        its send queue is full, in which case it is closed as a slow consumer (1008)."""
        if self._state != OPEN:
            return False
        outbox = self._outbox
        assert outbox is not None
        n = len(data)
        if not outbox.fits(n):
            self._close_soon(POLICY_VIOLATION, "slow consumer")
            return False
        outbox.push(data, n)
        return True

    # -- closing -----------------------------------------------------------------------------------------------

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection after the messages already queued are sent (``WS_CLOSE_TIMEOUT`` at most).

        Before :meth:`accept`, this refuses the handshake with HTTP 403 instead (a close code is not an HTTP
        status; use :meth:`reject` for another one). Closing twice is harmless. Under RSGI the peer receives no
        code or reason (Granian cannot send them; it sees 1005): :attr:`close_code` still records ``code``.

        Raises:
            ValueError: ``code`` is not a valid close code or ``reason`` is over 123 bytes.
        """
        check_close(code, reason)
        if self._state == CONNECTING:
            await self.reject(403)
        elif self._state == OPEN:
            await self._close(code, reason, flush=True)

    async def _close(self, code: int, reason: str, *, flush: bool) -> None:
        if self._state != OPEN:
            return
        self._state = CLOSING
        self.close_code, self.close_reason = code, reason
        timeout = self.settings.close_timeout
        outbox = self._outbox
        assert outbox is not None
        if flush:
            try:
                await asyncio.wait_for(outbox.drained(), timeout)
            except TimeoutError:
                pass
        self._cancel_tasks()
        outbox.clear()
        try:
            await asyncio.wait_for(self._channel.close(code, reason), timeout)
        except Exception:  # a server that cannot even send the close frame: the connection is gone anyway
            pass
        self._closed(code, reason)

    def _close_soon(self, code: int, reason: str) -> None:
        # Called from code that must not wait (a broadcast): the close runs in its own task.
        if self._closer is None and self._state == OPEN:
            self._closer = asyncio.ensure_future(self._close(code, reason, flush=False))

    def _peer_closed(self, code: int, reason: str = "") -> None:
        if self._state == CLOSED:
            return
        if self._state == OPEN:
            self.close_code, self.close_reason = code, reason
        self._cancel_tasks()
        if self._outbox is not None:
            self._outbox.clear()
        self._closed(self.close_code or code, self.close_reason)

    def _closed(self, code: int, reason: str) -> None:
        self._state = CLOSED
        if not self._final_queued and self._inbox is not None:
            self._final_queued = True
            self._inbox.put_final(WebSocketMessage(CLOSE, None, code, reason))

    def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    async def _teardown(self) -> None:
        """Stop the connection's tasks (the handler has returned)."""
        closer = self._closer
        if closer is not None and not closer.done():
            try:
                await asyncio.wait_for(asyncio.shield(closer), self.settings.close_timeout * 2)
            except Exception:
                closer.cancel()
        self._cancel_tasks()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        # Finished tasks hold their frames (through a cancellation's traceback), and the frames the
        # connection: drop them so nothing outlives the handler by a reference cycle.
        self._tasks = []
        self._closer = None

    # -- the connection's tasks ------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        channel, inbox = self._channel, self._inbox
        assert inbox is not None
        s = self.settings
        limit = s.max_message_bytes
        reply = s.heartbeat_reply if s.heartbeat_interval else None
        clock = asyncio.get_running_loop().time
        try:
            while True:
                kind, data = await channel.receive()
                if kind == CLOSE:
                    self._peer_closed(int(data))  # type: ignore[arg-type]
                    return
                self._last_seen = clock()
                if too_big(data, limit):  # type: ignore[arg-type]
                    await self._close(MESSAGE_TOO_BIG, "message too big", flush=False)
                    return
                if reply is not None and data == reply:
                    continue  # a heartbeat answer: liveness only, not for the handler
                await inbox.put(WebSocketMessage(kind, data))  # type: ignore[arg-type]  # TEXT/BYTES carry str/bytes
        except asyncio.CancelledError:
            raise
        except Exception:
            self.logger.exception("WebSocket reader failed on %s", self.path)
            await self._close(INTERNAL_ERROR, "", flush=False)

    async def _write_loop(self) -> None:
        outbox = self._outbox
        assert outbox is not None
        write = self._channel.send
        while True:
            data = await outbox.next()
            try:
                await write(data)
            except ChannelClosed:
                self._peer_closed(ABNORMAL_CLOSURE)
                return
            outbox.written()

    async def _watch(self) -> None:
        s = self.settings
        inbox = self._inbox
        assert inbox is not None
        clock = asyncio.get_running_loop().time
        interval = s.heartbeat_interval
        while self._state == OPEN:
            if inbox.full:  # the handler is not reading: the peer is not silent, the app is
                self._last_seen = clock()
            if interval:
                silent = clock() - self._last_seen
                if silent < interval:
                    await asyncio.sleep(interval - silent)
                    continue
                seen = self._last_seen
                self.offer(s.heartbeat_message)
                await asyncio.sleep(s.heartbeat_timeout or interval)
                if self._last_seen == seen and not inbox.full and self._state == OPEN:
                    await self._close(INTERNAL_ERROR, "heartbeat timeout", flush=False)
                    return
            else:
                idle = s.idle_timeout
                assert idle is not None
                silent = clock() - self._last_seen
                if silent >= idle:
                    await self._close(GOING_AWAY, "idle timeout", flush=False)
                    return
                await asyncio.sleep(idle - silent)


__all__ = [
    "BYTES",
    "CLOSE",
    "ConnectionClosed",
    "TEXT",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketMessage",
]
