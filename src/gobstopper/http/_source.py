"""The small interfaces a request is read through; each adapter implements them for its protocol.

The core never sees a server's scope or protocol objects: it holds them as opaque values and asks the
adapter's :class:`RequestSource` for what it needs, when it needs it (scope values are costly to read under RSGI,
so nothing is read before a handler asks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple, Protocol


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


class RequestSource(Protocol):
    """How the core reads a request out of an adapter's opaque ``scope`` / ``channel`` values."""

    def query_string(self, scope: Any) -> str: ...

    def headers(self, scope: Any) -> HeaderSource: ...

    def raw_headers(self, scope: Any) -> list[tuple[bytes, bytes]]: ...

    def connection(self, scope: Any) -> Connection: ...

    def body(self, channel: Any) -> AsyncIterator[bytes]:
        """The body in chunks (empty chunks allowed); raises ``ClientDisconnect`` if the client goes away."""
        ...


class RawHeaders:
    """A :class:`HeaderSource` over ``(bytes name, bytes value)`` pairs with lower-case names (ASGI's form)."""

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


def parse_host_port(value: str) -> tuple[str, int] | None:
    """``"1.2.3.4:80"`` / ``"[::1]:80"`` -> ``(host, port)``; ``None`` for anything else (Unix sockets...)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)
