"""The small interface the core talks to a WebSocket through; each adapter implements it for its protocol.

The core never sees ``send``/``receive`` (ASGI) or a Granian websocket protocol object (RSGI): it awaits only
the methods below (DESIGN.md §2 rule 2). The method names deliberately differ from the protocol verbs.
"""

from __future__ import annotations

from typing import Protocol

#: ``read()`` result kinds.
TEXT = "text"
BYTES = "bytes"
CLOSE = "close"

#: Close codes with a meaning of their own (RFC 6455 §7.4.1).
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
NO_STATUS = 1005  # the peer closed without a code (and what an RSGI client sees after any server close)
ABNORMAL_CLOSURE = 1006  # the connection dropped without a close frame
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class ChannelClosed(Exception):
    """Raised by :meth:`WebSocketChannel.write` when the connection is gone."""


class WebSocketChannel(Protocol):
    """One WebSocket connection as an adapter offers it to the core.

    Attributes:
        close_codes: whether a close code and reason given after the handshake reach the peer (ASGI: yes;
            RSGI: no, the peer sees 1005).
        subprotocols: whether the handshake response can carry a subprotocol and extra headers.
    """

    close_codes: bool
    subprotocols: bool

    async def open(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        """Complete the handshake (101)."""
        ...

    async def refuse(self, status: int) -> None:
        """Answer the handshake with HTTP ``status`` instead of upgrading. Never raises."""
        ...

    async def read(self) -> tuple[str, str | bytes | int]:
        """The next message: ``(TEXT, str)``, ``(BYTES, bytes)`` or ``(CLOSE, code)``. After ``CLOSE`` the
        connection is gone and ``read`` is not called again. A broken connection reads as
        ``(CLOSE, 1006)``; it does not raise."""
        ...

    async def write(self, data: str | bytes) -> None:
        """Send one whole message (a ``str`` as one text message). Raises :class:`ChannelClosed`."""
        ...

    async def shut(self, code: int, reason: str) -> None:
        """Close an open connection with ``code``/``reason`` (as far as the protocol can). Never raises."""
        ...
