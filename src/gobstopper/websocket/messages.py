"""What travels on a WebSocket, as the handler sees it: a received :class:`WebSocketMessage`, the
:class:`WebSocketDisconnect` raised once the connection is closed, and the checks on sizes and close frames
(RFC 6455 §5.5, §7.4).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..adapter import CLOSE, NORMAL_CLOSURE

_json_decoder = msgspec.json.Decoder()


class WebSocketDisconnect(ConnectionError):
    """The connection is closed: the peer went away, or it was closed (by the app or a limit).

    Raised by the ``receive_*`` helpers when the close arrives and by every send after it.

    Attributes:
        code: the close code (1005 when the peer sent none, which is always the case under RSGI; 1006 when
            the connection dropped without a close frame).
        reason: the close reason, if any.
    """

    def __init__(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


#: The reference's examples catch ``ConnectionClosed``; it is the same exception.
ConnectionClosed = WebSocketDisconnect


class WebSocketMessage:
    """One received message.

    Attributes:
        type: ``"text"``, ``"bytes"`` or ``"close"``.
        data: ``str`` for text, ``bytes`` for binary, ``None`` for close.
        code: the close code for a ``"close"`` message, else ``None``.
        reason: the close reason (``""`` when none).
    """

    __slots__ = ("code", "data", "reason", "type")

    def __init__(self, type: str, data: str | bytes | None = None, code: int | None = None, reason: str = "") -> None:
        self.type = type
        self.data = data
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        # So the reference's ``await websocket.send(f"Echo: {message}")`` echoes the text, not a repr.
        if isinstance(self.data, str):
            return self.data
        if isinstance(self.data, bytes):
            return self.data.decode("utf-8", errors="replace")
        return ""

    def __repr__(self) -> str:
        if self.type == CLOSE:
            return f"WebSocketMessage(type='close', code={self.code!r}, reason={self.reason!r})"
        data = self.data if self.data is None or len(self.data) <= 60 else self.data[:60]
        return f"WebSocketMessage(type={self.type!r}, data={data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WebSocketMessage):
            return NotImplemented
        return (self.type, self.data, self.code) == (other.type, other.data, other.code)

    __hash__ = None  # type: ignore[assignment]

    def json(self) -> Any:
        """The message decoded as JSON (``ValueError`` if it is not)."""
        if self.data is None:
            raise ValueError("a close message has no data")
        return _json_decoder.decode(self.data)


def too_big(data: str | bytes, limit: int) -> bool:
    """Whether a received message is over ``limit`` bytes (text counted as UTF-8; the peer is closed with 1009)."""
    n = len(data)
    if n > limit:
        return True
    if isinstance(data, str) and n * 4 > limit:  # a character is 1-4 UTF-8 bytes: encode only near the limit
        return len(data.encode("utf-8", "surrogatepass")) > limit
    return False


def check_close(code: int, reason: str) -> None:
    """Refuse a close frame an endpoint may not send.

    Raises:
        ValueError: ``code`` is not one an endpoint may send (RFC 6455 §7.4: 1004-1006 and 1015 are never sent,
            1016-2999 are reserved, 3000-4999 are for apps), or ``reason`` is over 123 bytes in UTF-8 (a control
            frame carries at most 125 bytes, two of them the code: §5.5).
    """
    if not (code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"invalid WebSocket close code {code}")
    if len(reason.encode("utf-8")) > 123:
        raise ValueError("a WebSocket close reason must be at most 123 bytes in UTF-8")


__all__ = ["ConnectionClosed", "WebSocketDisconnect", "WebSocketMessage", "check_close", "too_big"]
