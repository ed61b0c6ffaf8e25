"""A fake of Granian's RSGI websocket protocol (2.8.7) for in-process tests: the protocol object for one
connection and the transport ``accept()`` returns (``docs/rsgi-notes.md`` §1.5, G13-G15).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .rsgi_http import RSGIProtocolClosed, RSGIProtocolError


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


__all__ = ["FakeWebSocketProtocol", "FakeWebSocketTransport"]
