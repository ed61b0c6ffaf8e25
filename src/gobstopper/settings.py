"""Typed settings: one object per app, built once from constructor keywords, then environment variables, then
defaults (docs/design.md §10).

``app.settings`` has three sections:

* ``http`` (:class:`HTTPSettings`): request limits and whom to trust; a :class:`~gobstopper.http.request.Request`
  receives this section, never the app.
* ``websocket`` (:class:`~gobstopper.websocket.WebSocketSettings`): message limits, Origin policy, liveness.
* ``lifecycle`` (:class:`LifecycleSettings`): shutdown.

Nothing here is read per request or after startup. The documented app attributes (``app.max_body_bytes``,
``app.trusted_proxies``, ...) are views on these fields, and ``app.config`` stays the user's own dict, as in Flask
(its WebSocket keys are read once, at startup; ``docs/websockets.md``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from ._env import SettingsError, parse_float, parse_int, parse_optional_float, parse_optional_int, read_env
from .websocket._settings import WebSocketSettings

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 - a runtime alias on 3.10

#: Default request body limit (bytes) when neither the app, a blueprint, the route nor the request sets one.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
#: Default JSON nesting limit (levels of arrays and objects). Enforced before decoding, so a deep body is the same
#: 400 on every interpreter: msgspec recurses once per level and only the interpreter's recursion limit stopped it
#: (3.11 refused 1,000 levels, 3.13 accepted 5,000). 128 is serde_json's default, far below any interpreter's
#: limit and far above what JSON APIs nest.
DEFAULT_MAX_JSON_DEPTH = 128


@dataclass(eq=False, slots=True)
class HTTPSettings:
    """Limits and trust for HTTP requests. Sizes are in bytes; ``None`` means no limit.

    Attributes:
        max_body_bytes: request body limit (10 MiB); blueprints, routes and requests may set their own (413).
        max_json_bytes: a lower limit for JSON bodies (``GOBSTOPPER_JSON_MAX_BYTES``; none by default).
        max_json_depth: nesting limit for JSON bodies in levels of arrays/objects (``GOBSTOPPER_JSON_MAX_DEPTH``,
            128); deeper is a 400, checked before decoding. ``None`` means the default: nesting is always bounded.
        max_query_params: query parameters per request (1,000; more is a 400).
        max_cookies: cookies per request (300; more is a 431).
        max_headers: header fields per request (100; more is a 431).
        max_header_bytes: the size of one header field, name plus value (16 KiB; more is a 431).
        max_headers_total_bytes: all header fields together (64 KiB; more is a 431).
        trusted_proxies: networks whose ``X-Forwarded-For`` / ``-Proto`` are believed (none).
        trusted_hosts: lower-case host names accepted in ``Host``; ``None`` accepts any well-formed host.
        body_timeout: seconds the framework waits for the next piece of a request body while a handler reads it
            (``GOBSTOPPER_BODY_TIMEOUT``, 30; ``None`` waits for ever). Past it the request is answered 408 with
            ``Connection: close`` (RFC 9110 §15.5.9) and the handler never gets a partial body.
    """

    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES
    max_json_bytes: int | None = None
    max_json_depth: int | None = DEFAULT_MAX_JSON_DEPTH
    max_query_params: int = 1000
    max_cookies: int = 300
    max_headers: int = 100
    max_header_bytes: int = 16 * 1024
    max_headers_total_bytes: int = 64 * 1024
    trusted_proxies: tuple[IPNetwork, ...] = ()
    trusted_hosts: frozenset[str] | None = None
    body_timeout: float | None = 30.0


@dataclass(eq=False, slots=True)
class LifecycleSettings:
    """Startup and shutdown.

    Attributes:
        shutdown_timeout: seconds :meth:`~gobstopper.Gobstopper.shutdown` waits for in-flight requests
            (``GOBSTOPPER_SHUTDOWN_TIMEOUT``, 10).
    """

    shutdown_timeout: float = 10.0


@dataclass(eq=False, slots=True)
class Settings:
    """All of an app's settings (``app.settings``)."""

    http: HTTPSettings = field(default_factory=HTTPSettings)
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)

    @classmethod
    def build(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``overrides`` (keyword names as in :data:`KEYWORDS`), then the environment, then defaults.

        Raises:
            TypeError: an unknown keyword.
            SettingsError: a value (keyword or environment variable) it cannot take; the message names it.
        """
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(KEYWORDS))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYWORDS))}")
        settings = cls()
        for keyword, (section, name, env_name, parse) in KEYWORDS.items():
            if keyword in overrides:
                value = overrides[keyword]
            elif env_name is not None:
                value = read_env(env_name, parse, getattr(getattr(settings, section), name), environ)
            else:
                continue
            setattr(getattr(settings, section), name, check(keyword, value))
        return settings


def _networks(value: Iterable[str] | str | None) -> tuple[IPNetwork, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return tuple(ipaddress.ip_network(v, strict=False) for v in (value or ()))


def _hosts(value: Iterable[str] | str | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return frozenset(host.lower() for host in value)


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a non-negative integer or None")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("expected a positive integer")
    return value


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("expected a positive number of seconds or None")
    return float(value)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("expected a non-negative number of seconds")
    return float(value)


#: keyword -> (section, field, environment variable or None, parser of the variable's text)
KEYWORDS: dict[str, tuple[str, str, str | None, Any]] = {
    "max_body_bytes": ("http", "max_body_bytes", "GOBSTOPPER_MAX_BODY_BYTES", parse_optional_int),
    "max_json_bytes": ("http", "max_json_bytes", "GOBSTOPPER_JSON_MAX_BYTES", parse_optional_int),
    "max_json_depth": ("http", "max_json_depth", "GOBSTOPPER_JSON_MAX_DEPTH", parse_optional_int),
    "max_query_params": ("http", "max_query_params", "GOBSTOPPER_MAX_QUERY_PARAMS", parse_int),
    "max_cookies": ("http", "max_cookies", "GOBSTOPPER_MAX_COOKIES", parse_int),
    "max_headers": ("http", "max_headers", "GOBSTOPPER_MAX_HEADERS", parse_int),
    "max_header_bytes": ("http", "max_header_bytes", "GOBSTOPPER_MAX_HEADER_BYTES", parse_int),
    "max_headers_total_bytes": ("http", "max_headers_total_bytes", None, parse_int),
    "trusted_proxies": ("http", "trusted_proxies", "GOBSTOPPER_TRUSTED_PROXIES", str),
    "trusted_hosts": ("http", "trusted_hosts", "GOBSTOPPER_TRUSTED_HOSTS", str),
    "body_timeout": ("http", "body_timeout", "GOBSTOPPER_BODY_TIMEOUT", parse_optional_float),
    "shutdown_timeout": ("lifecycle", "shutdown_timeout", "GOBSTOPPER_SHUTDOWN_TIMEOUT", parse_float),
}

_CHECKS: dict[str, Any] = {
    "max_body_bytes": _limit,
    "max_json_bytes": _limit,
    "max_json_depth": _limit,
    "max_query_params": _count,
    "max_cookies": _count,
    "max_headers": _count,
    "max_header_bytes": _count,
    "max_headers_total_bytes": _count,
    "trusted_proxies": _networks,
    "trusted_hosts": _hosts,
    "body_timeout": _timeout,
    "shutdown_timeout": _seconds,
}


def check(keyword: str, value: Any) -> Any:
    """``value`` checked and normalised for setting ``keyword`` (a network list from strings, ...).

    Raises:
        SettingsError: the value is not one the setting can take.
    """
    try:
        return _CHECKS[keyword](value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {keyword}={value!r}: {exc}") from None


def field_names(section: Any) -> list[str]:
    """The field names of a settings section (for ``gobstopper config show`` and the docs)."""
    return [f.name for f in dataclasses.fields(section)]


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "HTTPSettings",
    "LifecycleSettings",
    "Settings",
    "SettingsError",
    "WebSocketSettings",
]
