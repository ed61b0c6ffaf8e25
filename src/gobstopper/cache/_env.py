"""``cache_from_env()``: a :class:`~gobstopper.cache.Cache` from ``GOBSTOPPER_CACHE_*`` environment variables.

The environment is read once, when the cache is built (never per request). docs/cache.md has the table of every
variable; :data:`ENV_VARS` below is the same table in code (tests check both agree).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ._cache import Cache
from ._memory import MemoryCacheStore
from ._redis import RedisCacheStore

#: Every variable read, with its default ("" when unset means "not set").
ENV_VARS: dict[str, str] = {
    "GOBSTOPPER_CACHE_ENABLED": "1",
    "GOBSTOPPER_CACHE_DEFAULT_TTL": "300",
    "GOBSTOPPER_CACHE_SWR_ENABLED": "1",
    "GOBSTOPPER_CACHE_STALE_WHILE_REVALIDATE": "0",
    "GOBSTOPPER_CACHE_STALE_IF_ERROR": "0",
    "GOBSTOPPER_CACHE_L1_MAX_ENTRIES": "10000",
    "GOBSTOPPER_CACHE_L1_MAX_BYTES": "67108864",
    "GOBSTOPPER_CACHE_L1_MAX_TTL": "",
    "GOBSTOPPER_CACHE_L2_ENABLED": "",
    "GOBSTOPPER_CACHE_L2_BACKEND": "redis",
    "GOBSTOPPER_CACHE_REDIS_URL": "",
    "GOBSTOPPER_CACHE_KEY_PREFIX": "gobstopper:cache:",
    "GOBSTOPPER_CACHE_SERIALIZER": "msgpack",
    "GOBSTOPPER_CACHE_REDIS_TIMEOUT": "0.5",
    "GOBSTOPPER_CACHE_RETRY_INTERVAL": "5",
    "GOBSTOPPER_CACHE_LOCK_TTL": "10",
    "GOBSTOPPER_CACHE_SINGLEFLIGHT_TIMEOUT": "10",
}

#: The reference's SurrealDB L2 settings: this project has no SurrealDB backend, so any of them is an error.
SURREAL_VARS = (
    "GOBSTOPPER_CACHE_SURREAL_URL",
    "GOBSTOPPER_CACHE_SURREAL_NAMESPACE",
    "GOBSTOPPER_CACHE_SURREAL_DATABASE",
    "GOBSTOPPER_CACHE_SURREAL_TABLE",
    "GOBSTOPPER_CACHE_SURREAL_USERNAME",
    "GOBSTOPPER_CACHE_SURREAL_PASSWORD",
    "GOBSTOPPER_CACHE_SURREAL_TOKEN",
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class CacheConfigError(ValueError):
    """A ``GOBSTOPPER_CACHE_*`` variable has a value the cache cannot use (the message names it)."""


def _read(env: Mapping[str, str], name: str) -> str:
    return env.get(name, ENV_VARS[name]).strip()


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = _read(env, name).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise CacheConfigError(f"{name}={raw!r}: use 1/0, true/false, yes/no or on/off")


def _number(env: Mapping[str, str], name: str, *, integer: bool = False) -> float:
    raw = _read(env, name)
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise CacheConfigError(f"{name}={raw!r} is not a {'whole ' if integer else ''}number") from None
    if math.isnan(value) or value < 0:
        raise CacheConfigError(f"{name}={raw!r} must be >= 0")
    return value


def _surreal_error(names: list[str]) -> CacheConfigError:
    return CacheConfigError(
        "Gobstopper's cache has no SurrealDB tier (the reference's L2); its L2 is Redis. "
        f"Remove {', '.join(names)} and set GOBSTOPPER_CACHE_REDIS_URL=redis://host:6379/0 instead "
        "(see docs/cache.md, 'Coming from the reference')."
    )


def cache_from_env(
    *,
    redis: Any = None,
    l1: MemoryCacheStore | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Cache:
    """Build a :class:`Cache` from ``GOBSTOPPER_CACHE_*`` variables (docs/cache.md lists them).

    Args:
        redis: a ``redis.asyncio.Redis`` client to use as L2 (one client shared with sessions and rate limits);
            it turns L2 on unless ``GOBSTOPPER_CACHE_L2_ENABLED=0``.
        l1: a memory store to use instead of one built from the ``L1_*`` variables.
        environ: the variables to read (``os.environ`` by default).
        **options: keyword arguments of :class:`Cache` that win over the environment.

    Raises:
        CacheConfigError: a malformed value; an L2 asked for without a Redis URL or client; the reference's
            SurrealDB variables or ``GOBSTOPPER_CACHE_L2_BACKEND=surreal``.
    """
    env = os.environ if environ is None else environ
    surreal = [name for name in SURREAL_VARS if env.get(name)]
    backend = _read(env, "GOBSTOPPER_CACHE_L2_BACKEND").lower()
    if backend == "surreal":
        surreal.insert(0, "GOBSTOPPER_CACHE_L2_BACKEND=surreal")
    if surreal:
        raise _surreal_error(surreal)
    if backend != "redis":
        raise CacheConfigError(f"GOBSTOPPER_CACHE_L2_BACKEND={backend!r}: the only L2 backend is 'redis'")

    url = _read(env, "GOBSTOPPER_CACHE_REDIS_URL")
    l2_setting = _read(env, "GOBSTOPPER_CACHE_L2_ENABLED")
    l2_enabled = _flag(env, "GOBSTOPPER_CACHE_L2_ENABLED") if l2_setting else bool(url or redis is not None)
    l2: RedisCacheStore | None = None
    if l2_enabled:
        prefix = _read(env, "GOBSTOPPER_CACHE_KEY_PREFIX")
        if redis is not None:
            l2 = RedisCacheStore(redis, prefix=prefix)
        elif url:
            l2 = RedisCacheStore(url=url, prefix=prefix, timeout=_number(env, "GOBSTOPPER_CACHE_REDIS_TIMEOUT"))
        else:
            raise CacheConfigError(
                "GOBSTOPPER_CACHE_L2_ENABLED is on but there is no Redis: set GOBSTOPPER_CACHE_REDIS_URL "
                "(redis://host:6379/0) or pass a client (cache_from_env(redis=client))"
            )

    if l1 is None:
        max_ttl = _number(env, "GOBSTOPPER_CACHE_L1_MAX_TTL") if _read(env, "GOBSTOPPER_CACHE_L1_MAX_TTL") else None
        l1 = MemoryCacheStore(
            max_entries=int(_number(env, "GOBSTOPPER_CACHE_L1_MAX_ENTRIES", integer=True)),
            max_bytes=int(_number(env, "GOBSTOPPER_CACHE_L1_MAX_BYTES", integer=True)),
            max_ttl=max_ttl,
        )
    serializer = _read(env, "GOBSTOPPER_CACHE_SERIALIZER").lower()
    if serializer not in ("msgpack", "json"):
        raise CacheConfigError(f"GOBSTOPPER_CACHE_SERIALIZER={serializer!r}: use 'msgpack' or 'json'")
    settings: dict[str, Any] = {
        "l1": l1,
        "l2": l2,
        "enabled": _flag(env, "GOBSTOPPER_CACHE_ENABLED"),
        "swr_enabled": _flag(env, "GOBSTOPPER_CACHE_SWR_ENABLED"),
        "default_ttl": _number(env, "GOBSTOPPER_CACHE_DEFAULT_TTL"),
        "stale_while_revalidate": _number(env, "GOBSTOPPER_CACHE_STALE_WHILE_REVALIDATE"),
        "stale_if_error": _number(env, "GOBSTOPPER_CACHE_STALE_IF_ERROR"),
        "lock_ttl": _number(env, "GOBSTOPPER_CACHE_LOCK_TTL"),
        "singleflight_timeout": _number(env, "GOBSTOPPER_CACHE_SINGLEFLIGHT_TIMEOUT"),
        "serializer": serializer,
        "retry_interval": _number(env, "GOBSTOPPER_CACHE_RETRY_INTERVAL"),
    }
    settings.update(options)
    return Cache(**settings)


class SurrealCacheStore:
    """The reference's SurrealDB L2. Gobstopper's L2 is Redis: making one raises :class:`CacheConfigError`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _surreal_error(["SurrealCacheStore"])


__all__ = ["ENV_VARS", "SURREAL_VARS", "CacheConfigError", "SurrealCacheStore", "cache_from_env"]
