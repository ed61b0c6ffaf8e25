"""The adapter interface: what a server adapter implements for the core, and the helpers it may call.

An adapter (the RSGI and ASGI ones in the source tree's ``adapters/``, or your own) turns one server protocol into
calls on the core and back (``docs/architecture.md``):

* for HTTP it builds a :class:`~gobstopper.http.request.Request` around the server's opaque scope and body
  channel, with a :class:`RequestSource` that reads them on demand, awaits ``app.handle(request)``, and sends the
  returned :class:`~gobstopper.http.response.Response` by its ``kind`` (bytes/str, file, stream);
* for a WebSocket handshake it wraps the connection in a :class:`WebSocketChannel` and awaits
  ``app.handle_websocket(request, channel)``;
* for the lifecycle it calls ``app.startup()`` and ``app.shutdown()``.

The core awaits nothing but the interfaces below: never a server's ``send``, ``receive`` or protocol object.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple, Protocol, runtime_checkable

# The helper adapters call to send a streamed body, and its outcomes.
from .http._streaming import COMPLETE, DISCONNECTED, FAILED, STOPPED, pump
from .http.errors import ClientDisconnect

# -- HTTP requests ---------------------------------------------------------------------------------------------


@runtime_checkable
class HeaderSource(Protocol):
    """Case-insensitive read access to request headers; lookups return the first value."""

    def get(self, name: str, default: Any = None) -> Any: ...

    def get_all(self, name: str) -> list[str]: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class Connection(NamedTuple):
    """Facts about the connection a request came on."""

    scheme: str
    client: tuple[str, int] | None
    server: tuple[str, int] | None
    http_version: str
    authority: str | None  # the HTTP/2 :authority, when the protocol exposes it


@runtime_checkable
class RequestSource(Protocol):
    """How the core reads a request out of an adapter's opaque ``scope`` / ``channel`` values.

    Scope values can be costly to read (RSGI scope attributes are Rust getters), so the core asks only when a
    handler needs them, once.
    """

    def query_string(self, scope: Any) -> str: ...

    def headers(self, scope: Any) -> HeaderSource: ...

    def raw_headers(self, scope: Any) -> list[tuple[bytes, bytes]]: ...

    def connection(self, scope: Any) -> Connection: ...

    def scheme(self, scope: Any) -> str:
        """``connection(scope).scheme`` alone: asked on every request behind HSTS, where the whole
        :class:`Connection` (five scope reads, two addresses parsed) would cost more than the answer."""
        ...

    def body(self, scope: Any, channel: Any) -> AsyncIterator[bytes]:
        """The body in chunks (empty chunks allowed). ``scope`` is there for an adapter that judges the body's end
        by facts of the request (the RSGI one: the HTTP version); it is read only when the body is.

        Raises:
            ClientDisconnect: the client went away, or the body's framing broke, before its end (never a short
                body handed over as complete).
        """
        ...


# -- WebSockets --------------------------------------------------------------------------------------------------

#: :meth:`WebSocketChannel.receive` result kinds (also ``WebSocketMessage.type``).
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
    """Raised by :meth:`WebSocketChannel.send` when the connection is gone."""


@runtime_checkable
class WebSocketChannel(Protocol):
    """One WebSocket connection as an adapter offers it to the core.

    Attributes:
        close_codes: whether a close code and reason given after the handshake reach the peer (ASGI: yes;
            RSGI: no, the peer sees 1005).
        subprotocols: whether the handshake response can carry a subprotocol and extra headers.
    """

    close_codes: bool
    subprotocols: bool

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        """Complete the handshake (101)."""
        ...

    async def reject(self, status: int) -> None:
        """Answer the handshake with HTTP ``status`` instead of upgrading. Never raises; a no-op once answered."""
        ...

    async def receive(self) -> tuple[str, str | bytes | int]:
        """The next message: ``(TEXT, str)``, ``(BYTES, bytes)`` or ``(CLOSE, code)``. After ``CLOSE`` the
        connection is gone and ``receive`` is not called again. A broken connection reads as
        ``(CLOSE, ABNORMAL_CLOSURE)``; it does not raise."""
        ...

    async def send(self, data: str | bytes) -> None:
        """Send one whole message (a ``str`` as one text message).

        Raises:
            ChannelClosed: the connection is gone.
        """
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close an open connection with ``code``/``reason`` (as far as the protocol can). Never raises."""
        ...

    def release(self) -> None:
        """Let go of the server's connection objects (the handler has returned)."""
        ...


__all__ = [
    "ABNORMAL_CLOSURE",
    "BYTES",
    "CLOSE",
    "COMPLETE",
    "DISCONNECTED",
    "FAILED",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "MESSAGE_TOO_BIG",
    "NORMAL_CLOSURE",
    "NO_STATUS",
    "POLICY_VIOLATION",
    "STOPPED",
    "TEXT",
    "UNSUPPORTED_DATA",
    "ChannelClosed",
    "ClientDisconnect",
    "Connection",
    "HeaderSource",
    "RequestSource",
    "WebSocketChannel",
    "pump",
]
