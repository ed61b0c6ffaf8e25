"""WebSocket limits and liveness settings: environment defaults (read once, at import) overridden by the
``app.config`` keys, which the app reads at startup (``app.settings.websocket``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._env import read_env


def _positive_int(text: str) -> int:
    number = int(text.replace("_", ""))
    if number <= 0:
        raise ValueError("expected a positive number of bytes")
    return number


#: The largest message accepted from a peer (bytes; text counts as UTF-8). Read once from the environment.
MAX_WS_MESSAGE_BYTES = read_env("MAX_WS_MESSAGE_BYTES", _positive_int, 1024 * 1024)
#: Read for compatibility with the reference, which split large messages into 64 KiB *binary* frames and so
#: broke text messages. Gobstopper never splits a message: fragmentation is the server's business.
WS_SEND_CHUNK_BYTES = read_env("WS_SEND_CHUNK_BYTES", _positive_int, 64 * 1024)


@dataclass(frozen=True)
class WebSocketSettings:
    """The limits that apply to one connection (see ``docs/websockets.md`` for the ``app.config`` keys)."""

    max_message_bytes: int = MAX_WS_MESSAGE_BYTES
    allowed_origins: tuple[Any, ...] | None = None  # str (exact, or "*") or compiled regex (full match)
    allow_missing_origin: bool = True
    heartbeat_interval: float | None = None
    heartbeat_timeout: float | None = None
    heartbeat_message: str | bytes = "ping"
    heartbeat_reply: str | bytes | None = "pong"
    idle_timeout: float | None = None
    send_queue_size: int = 128
    send_queue_bytes: int = 4 * 1024 * 1024
    send_timeout: float = 10.0
    close_timeout: float = 5.0
    receive_queue_size: int = 16

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WebSocketSettings:
        """Settings from ``app.config`` keys (``MAX_WS_MESSAGE_BYTES``, ``WS_ALLOWED_ORIGINS``, ...)."""
        if not any(key in config for key in _KEYS):
            return _DEFAULT
        kwargs: dict[str, Any] = {}
        for key, field_name in _KEYS.items():
            if key in config:
                kwargs[field_name] = config[key]
        origins = kwargs.get("allowed_origins")
        if origins is not None:
            kwargs["allowed_origins"] = _origins(origins)
        interval = kwargs.get("heartbeat_interval")
        if interval is not None and kwargs.get("heartbeat_timeout") is None:
            kwargs["heartbeat_timeout"] = interval
        settings = cls(**kwargs)
        if settings.max_message_bytes <= 0 or settings.send_queue_size <= 0 or settings.send_queue_bytes <= 0:
            raise ValueError("WebSocket size limits must be positive")
        return settings

    def origin_allowed(self, origin: str) -> bool:
        """Whether ``origin`` (the ``Origin`` header value) is on the allow-list."""
        for allowed in self.allowed_origins or ():
            if isinstance(allowed, str):
                if allowed == "*" or allowed.lower() == origin.lower():
                    return True
            elif allowed.fullmatch(origin):
                return True
        return False


def _origins(value: Any) -> tuple[Any, ...]:
    items: Iterable[Any] = [value] if isinstance(value, (str, re.Pattern)) else value
    return tuple(item.rstrip("/") if isinstance(item, str) else item for item in items)


_KEYS = {
    "MAX_WS_MESSAGE_BYTES": "max_message_bytes",
    "WS_ALLOWED_ORIGINS": "allowed_origins",
    "WS_ALLOW_MISSING_ORIGIN": "allow_missing_origin",
    "WS_HEARTBEAT_INTERVAL": "heartbeat_interval",
    "WS_HEARTBEAT_TIMEOUT": "heartbeat_timeout",
    "WS_HEARTBEAT_MESSAGE": "heartbeat_message",
    "WS_HEARTBEAT_REPLY": "heartbeat_reply",
    "WS_IDLE_TIMEOUT": "idle_timeout",
    "WS_SEND_QUEUE_SIZE": "send_queue_size",
    "WS_SEND_QUEUE_BYTES": "send_queue_bytes",
    "WS_SEND_TIMEOUT": "send_timeout",
    "WS_CLOSE_TIMEOUT": "close_timeout",
    "WS_RECEIVE_QUEUE_SIZE": "receive_queue_size",
}

_DEFAULT = WebSocketSettings()
