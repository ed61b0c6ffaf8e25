"""The cache facade: L1 memory, then L2 Redis, then the factory.

Rules this module keeps (docs/cache.md explains them for users):

1. An L1 hit in :meth:`Cache.get_or_set` is one dict lookup and one clock read; it never awaits anything.
2. Singleflight: concurrent misses of one key run the factory once per process (one task, every caller awaits it
   shielded, so a caller that is cancelled does not cancel the others), and once across processes when L2 is on
   (a Redis lock taken in the same round trip as the read; waiters poll until the value appears, the lock frees
   up, or ``singleflight_timeout`` passes). A failed factory fails every caller waiting for it.
3. Stale-while-revalidate (RFC 5861 §3): past its TTL an entry is still served for ``stale_while_revalidate``
   seconds while one background refresh runs (one per key per process, and one across processes through the
   same lock). Stale-if-error (RFC 5861 §4): for ``stale_if_error`` seconds past its TTL an entry is served when
   the factory raises.
4. Redis trouble never reaches the caller: the first failure logs one warning, the cache serves from L1 and the
   factory, and Redis is tried again every ``retry_interval`` seconds. When it answers again L1 is emptied, since
   invalidations published meanwhile were missed.
5. Every value is encoded with msgspec (msgpack or JSON), in L1 too (to measure it and to refuse, early and the
   same way with or without Redis, what cannot be stored). Never pickle.
6. Other processes learn about ``set``/``delete``/invalidations/version bumps through Redis pub/sub and drop
   their L1 copies.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from time import monotonic
from typing import Any

import msgspec

from ._memory import MemoryCacheStore, Slot
from ._redis import HEADER_SIZE, RedisCacheStore

logger = logging.getLogger("gobstopper.cache")

_MISSING: Any = object()

_ENCODERS: dict[str, tuple[bytes, Callable[[Any], bytes]]] = {
    "msgpack": (b"m", msgspec.msgpack.Encoder().encode),
    "json": (b"j", msgspec.json.Encoder().encode),
}
_event_encoder = msgspec.msgpack.Encoder()
_event_decoder = msgspec.msgpack.Decoder()
_key_encoder = msgspec.json.Encoder(enc_hook=str, order="sorted")
_decoders: dict[tuple[bytes, Any], Any] = {}


def _decoder(fmt: bytes, kind: Any) -> Any:
    decoder = _decoders.get((fmt, kind))
    if decoder is None:
        module = msgspec.msgpack if fmt == b"m" else msgspec.json
        decoder = _decoders[(fmt, kind)] = module.Decoder(kind)
    return decoder


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _seconds(name: str, value: Any) -> float:
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
    return seconds


async def _call(factory: Callable[[], Any]) -> Any:
    value = factory()
    if inspect.isawaitable(value):
        value = await value
    return value


class _Retry(Exception):
    """Told to callers waiting on a lookup whose leader was cancelled: they look again."""


class Uncached:
    """Returned by a factory: hand ``value`` to the callers without storing it (a degraded answer, a response
    that must not be shared...). Callers waiting on the same computation get it too."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Cache:
    """The two-tier cache: memory (L1) in each process, Redis (L2) shared by every process.

    Every method is a coroutine except :meth:`build_key`. Keys are strings; values anything msgspec encodes
    (dict, list, str, int, float, bool, None, bytes, ``msgspec.Struct``, dataclasses, datetime, UUID...).
    Times are seconds.

    Args:
        l1: the memory store (:class:`MemoryCacheStore`; ``MemoryCacheStore(max_entries=0)`` turns L1 off).
        l2: the Redis store (:class:`RedisCacheStore`), or None for memory only.
        enabled: False makes every read miss and every write a no-op (``get_or_set`` calls the factory).
        swr_enabled: False never serves a stale entry while revalidating (a switch for the whole cache).
        default_ttl: TTL of ``set``/``get_or_set`` calls that give none.
        stale_while_revalidate: default seconds past the TTL during which an entry is served while it is
            refreshed in the background (RFC 5861 §3).
        stale_if_error: default seconds past the TTL during which an entry is served if the factory raises
            (RFC 5861 §4).
        lock_ttl: seconds a cross-process singleflight lock lives if its holder dies.
        singleflight_timeout: seconds a process waits for another one's factory before running its own.
        serializer: ``"msgpack"`` (default) or ``"json"``, how values are encoded for L2.
        retry_interval: seconds between attempts to reach Redis after a failure.

    Raises:
        ValueError: a negative time or an unknown serializer.

    Example:
        >>> cache = Cache()
        >>> async def compute():
        ...     return {"value": 42}
        >>> await cache.get_or_set("answer", compute, ttl=30)
        {'value': 42}
    """

    def __init__(
        self,
        *,
        l1: MemoryCacheStore | None = None,
        l2: RedisCacheStore | None = None,
        enabled: bool = True,
        swr_enabled: bool = True,
        default_ttl: float = 300.0,
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        lock_ttl: float = 10.0,
        singleflight_timeout: float = 10.0,
        serializer: str = "msgpack",
        retry_interval: float = 5.0,
    ) -> None:
        if serializer not in _ENCODERS:
            raise ValueError(f"unknown cache serializer {serializer!r}; use 'msgpack' or 'json'")
        self.l1 = l1 if l1 is not None else MemoryCacheStore()
        self.l2 = l2
        self.enabled = enabled
        self.swr_enabled = swr_enabled
        self.default_ttl = _seconds("default_ttl", default_ttl)
        self.stale_while_revalidate = _seconds("stale_while_revalidate", stale_while_revalidate)
        self.stale_if_error = _seconds("stale_if_error", stale_if_error)
        self.lock_ttl = _seconds("lock_ttl", lock_ttl)
        self.singleflight_timeout = _seconds("singleflight_timeout", singleflight_timeout)
        self.retry_interval = _seconds("retry_interval", retry_interval)
        self.serializer = serializer
        self._format, self._encode = _ENCODERS[serializer]
        self._l1_get = self.l1.data.get
        self.namespace_versions: dict[str, int] = {}
        self.stats: dict[str, int] = dict.fromkeys(
            ("l1_hits", "l2_hits", "misses", "loads", "stale_served", "stale_on_error", "l2_errors"), 0
        )
        self._origin = secrets.token_hex(8)
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[Any] | None = None
        self._l2_down = False
        self._retry_at = 0.0
        self._closing = False

    def __repr__(self) -> str:
        tiers = "memory" + (" + redis" if self.l2 is not None else "")
        return f"<Cache {tiers}{'' if self.enabled else ' (disabled)'}>"

    # -- reading --------------------------------------------------------------------------------------------

    async def get_or_set(
        self,
        key: str,
        factory: Callable[[], Any] | None = None,
        *,
        ttl: float | None = None,
        stale_ttl: float | None = None,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        tags: Iterable[str] = (),
        type: Any = Any,
        singleflight_timeout: float | None = None,
        loader: Callable[[], Any] | None = None,
    ) -> Any:
        """The value of ``key``, computed by ``factory()`` (sync or async) and stored when missing or expired.

        Args:
            key: the cache key.
            factory: called with no argument on a miss (``loader=`` is the reference's name for it).
            ttl: seconds the value is fresh (``default_ttl`` when None; 0 computes without storing).
            stale_ttl: the reference's spelling: seconds from now during which a stale value may be served while
                revalidating (``stale_while_revalidate = stale_ttl - ttl``).
            stale_while_revalidate: seconds past ``ttl`` the value is served while one refresh runs.
            stale_if_error: seconds past ``ttl`` the value is served if the factory raises.
            tags: labels for :meth:`invalidate_tags`.
            type: the type values read back from Redis are decoded to (a ``msgspec.Struct`` class,
                ``list[Item]``...); without it they come back as plain dicts and lists.
            singleflight_timeout: seconds to wait for another process's factory (default: the cache's).

        Raises:
            TypeError: no factory, a non-string key, or a value msgspec cannot encode.
            ValueError: a negative time.
            Exception: whatever the factory raised, when no stale value may stand in for it.
        """
        slot = self._l1_get(key)
        if slot is not None and slot.fresh_until > monotonic():
            slot.visited = True
            self.stats["l1_hits"] += 1
            return slot.value
        return await self._get_or_set_miss(
            key,
            factory or loader,
            self._policy(ttl, stale_ttl, stale_while_revalidate, stale_if_error),
            tuple(tags),
            type,
            self.singleflight_timeout if singleflight_timeout is None else singleflight_timeout,
        )

    async def get(self, key: str, default: Any = None, *, allow_stale: bool = False, type: Any = Any) -> Any:
        """The value of ``key``, or ``default`` when it is missing or expired.

        Args:
            allow_stale: also return a value past its TTL but inside its stale-while-revalidate window.
            type: see :meth:`get_or_set`.
        """
        if not self.enabled:
            return default
        _check_key(key)
        self._bind_loop()
        now = monotonic()
        slot = self.l1.peek(key)
        if slot is not None and (
            slot.fresh_until > now or (allow_stale and self.swr_enabled and slot.stale_until > now)
        ):
            slot.visited = True
            self.stats["l1_hits"] += 1
            return slot.value
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                record = await l2.get(key)
            except Exception as exc:
                self._l2_failed(exc)
                return default
            self._l2_ok()
            found = self._from_record(key, record, type)
            if found is not None:
                slot, fresh = found
                if fresh or (allow_stale and self.swr_enabled and slot.stale_until > monotonic()):
                    self.stats["l2_hits"] += 1
                    return slot.value
        self.stats["misses"] += 1
        return default

    async def refresh(
        self,
        key: str,
        factory: Callable[[], Any],
        *,
        ttl: float | None = None,
        stale_ttl: float | None = None,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        tags: Iterable[str] = (),
    ) -> Any:
        """Compute ``key`` again with ``factory()`` whatever is stored, store and return the value (arguments as in
        :meth:`get_or_set`). Concurrent refreshes and loads of one key in a process share one computation.

        When the factory raises, a stored value inside its ``stale_if_error`` window is returned instead.
        """
        if not self.enabled:
            return await _call(factory)
        _check_key(key)
        self._bind_loop()
        policy = self._policy(ttl, stale_ttl, stale_while_revalidate, stale_if_error)
        slot = self.l1.peek(key)
        fallback = slot.value if slot is not None and slot.error_until > monotonic() else _MISSING
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._compute_and_store(key, factory, policy, tuple(tags), publish=True)
            )
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(self._inflight, key, done))
        try:
            return await asyncio.shield(task)
        except Exception as exc:
            if fallback is _MISSING:
                raise
            self.stats["stale_on_error"] += 1
            logger.warning("cache: computing %r failed (%s); serving the stale value (stale-if-error)", key, exc)
            return fallback

    # -- writing --------------------------------------------------------------------------------------------

    async def set(
        self,
        key: str,
        value: Any,
        *,
        ttl: float | None = None,
        stale_ttl: float | None = None,
        stale_while_revalidate: float | None = None,
        stale_if_error: float | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        """Store ``value`` under ``key`` in L1 and L2 (arguments as in :meth:`get_or_set`); other processes drop
        their L1 copy.

        Raises:
            TypeError: a non-string key or a value msgspec cannot encode.
            ValueError: a negative time.
        """
        if not self.enabled:
            return
        _check_key(key)
        self._bind_loop()
        policy = self._policy(ttl, stale_ttl, stale_while_revalidate, stale_if_error)
        await self._store(key, value, policy, tuple(tags), publish=True)

    async def delete(self, key: str) -> bool:
        """Remove ``key`` everywhere; whether it was found (in L2 when Redis is on, else in L1)."""
        _check_key(key)
        self._bind_loop()
        found = self.l1.delete(key)
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                found = bool(await l2.delete(key, self._event(k=key)))
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)
        return found

    async def invalidate_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; how many (counted in L2 when Redis is on, else in L1).

        L2 is searched with ``SCAN`` (it does not block Redis, but costs time in proportion to its size).
        """
        self._bind_loop()
        removed = self.l1.invalidate_prefix(prefix)
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                removed = await l2.invalidate_prefix(prefix, self._event(p=prefix))
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)
        return removed

    async def invalidate_tags(self, *tags: str) -> int:
        """Remove every key stored with one of ``tags``; how many (counted as :meth:`invalidate_prefix`)."""
        self._bind_loop()
        removed = self.l1.invalidate_tags(tags)
        l2 = self._l2_usable()
        if l2 is not None and tags:
            try:
                removed, keys = await l2.invalidate_tags(tuple(tags))
                for key in keys:  # read from Redis into L1 without their tags
                    self.l1.delete(key)
                await l2.publish(self._event(t=list(tags), ks=keys))
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)
        return removed

    async def clear(self) -> None:
        """Remove everything: this process's L1 and, when Redis is on, every key under the cache's prefix."""
        self._bind_loop()
        self.l1.clear()
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                await l2.clear(self._event(c=1))
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)

    async def flush(self) -> None:
        """Wait for background refreshes to finish, then empty this process's L1 (L2 is left as it is).

        Meant for shutdown handlers (``await app.cache.flush()`` in the reference's examples).
        """
        pending = [task for task in self._background if not task.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self.l1.clear()

    # -- keys and versions ----------------------------------------------------------------------------------

    def build_key(
        self,
        namespace: str,
        *,
        tenant: str | None = None,
        params: dict[str, Any] | None = None,
        auth_scope: str | None = None,
        cacheability: str = "public",
    ) -> str:
        """A key ``<namespace>:v<version>:<digest>`` (as the reference builds it).

        The digest is the first 16 hex digits of SHA-256 over the sorted JSON of tenant, params, auth scope and
        cacheability, so equal inputs give equal keys in every process; the version is the namespace's
        (:meth:`bump_version`), so bumping it orphans every older key at once.
        """
        payload = {"tenant": tenant, "params": params or {}, "auth_scope": auth_scope, "cacheability": cacheability}
        digest = hashlib.sha256(_key_encoder.encode(payload)).hexdigest()[:16]
        return f"{namespace}:v{self.namespace_versions.get(namespace, 1)}:{digest}"

    async def bump_version(self, namespace: str) -> str:
        """Move ``namespace`` to its next version (``"v2"``, ``"v3"``...): keys built before no longer match.

        With Redis the version is shared by every process (a Redis hash, announced on pub/sub); without it, it
        lives in this process only.
        """
        self._bind_loop()
        version = self.namespace_versions.get(namespace, 1) + 1
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                count = await l2.bump_version(namespace)
                version = max(version, count + 1)
                await l2.publish(self._event(v=[namespace, version]))
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)
        self.namespace_versions[namespace] = version
        return f"v{version}"

    async def handle_eda_event(self, topic: str, payload: dict[str, Any] | None = None) -> int | str | None:
        """Invalidate on an event, as the reference does: ``entity.updated`` / ``entity.deleted`` drop the prefix
        ``payload["cache_prefix"]`` (or ``"<namespace>:"``); ``schema.bump`` bumps ``payload["namespace"]``."""
        data = payload or {}
        if topic in {"entity.updated", "entity.deleted"}:
            prefix = data.get("cache_prefix") or (f"{data['namespace']}:" if data.get("namespace") else None)
            return await self.invalidate_prefix(prefix) if isinstance(prefix, str) and prefix else 0
        if topic == "schema.bump":
            namespace = data.get("namespace")
            return await self.bump_version(namespace) if isinstance(namespace, str) and namespace else None
        return None

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Redis (if any): load the namespace versions and listen for other processes' invalidations.

        Called by the cache extension at startup; without it, this happens on the first Redis operation.
        """
        self._bind_loop()
        l2 = self._l2_usable()
        if l2 is not None:
            try:
                await self._load_versions(l2)
                self._l2_ok()
            except Exception as exc:
                self._l2_failed(exc)
            self._ensure_listener()

    async def close(self) -> None:
        """Stop listening and refreshing, and close the Redis client if the cache made it."""
        tasks = [t for t in (self._listener, *self._background) if t is not None and not t.done()]
        self._listener = None
        self._closing = True  # redis-py may turn a cancellation inside a read into an error: the loop checks this
        try:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=5)
        finally:
            self._closing = False
        self._background.clear()
        self._inflight.clear()
        self._refreshing.clear()
        if self.l2 is not None:
            await self.l2.close()

    # -- the miss path --------------------------------------------------------------------------------------

    def _policy(
        self, ttl: float | None, stale_ttl: float | None, swr: float | None, sie: float | None
    ) -> tuple[float, float, float]:
        fresh = self.default_ttl if ttl is None else _seconds("ttl", ttl)
        if swr is None:
            swr = max(0.0, _seconds("stale_ttl", stale_ttl) - fresh) if stale_ttl is not None else None
        return (
            fresh,
            self.stale_while_revalidate if swr is None else _seconds("stale_while_revalidate", swr),
            self.stale_if_error if sie is None else _seconds("stale_if_error", sie),
        )

    async def _get_or_set_miss(
        self,
        key: str,
        factory: Callable[[], Any] | None,
        policy: tuple[float, float, float],
        tags: tuple[str, ...],
        kind: Any,
        timeout: float,
    ) -> Any:
        if factory is None:
            raise TypeError("get_or_set needs a factory (the function computing the value)")
        if not self.enabled:
            return await _call(factory)
        _check_key(key)
        self._bind_loop()
        slot = self.l1.peek(key)
        fallback = _MISSING
        if slot is not None:
            now = monotonic()
            if slot.fresh_until > now:
                return slot.value
            if self.swr_enabled and slot.stale_until > now:
                self.stats["stale_served"] += 1
                self._refresh_soon(key, factory, policy, tags, kind)
                return slot.value
            if slot.error_until > now:
                fallback = slot.value
        loop = asyncio.get_running_loop()
        while True:
            pending = self._inflight.get(key)
            if pending is None:
                # Lead: first one plain GET in this coroutine (an L2 hit costs a round trip, no task, no lock
                # script); on a miss, the load runs as a task, so a cancelled caller does not cancel it.
                # Callers arriving meanwhile wait on ``pending``.
                pending = self._inflight[key] = loop.create_future()
                try:
                    value = await self._l2_fresh(key, kind) if slot is None else _MISSING
                except BaseException:
                    self._settle(key, pending, error=_Retry())
                    raise
                if value is not _MISSING:
                    self._settle(key, pending, value)
                    return value
                self.stats["misses"] += 1
                task = loop.create_task(self._load(key, factory, policy, tags, kind, timeout))
                task.add_done_callback(functools.partial(self._settle_from, key, pending))
            try:
                return await asyncio.shield(pending)
            except _Retry:
                continue  # the caller that was looking in Redis was cancelled: look again
            except Exception as exc:
                if fallback is _MISSING:
                    raise
                self.stats["stale_on_error"] += 1
                logger.warning("cache: computing %r failed (%s); serving the stale value (stale-if-error)", key, exc)
                return fallback

    async def _l2_fresh(self, key: str, kind: Any) -> Any:
        """The fresh value of ``key`` in Redis, or ``_MISSING`` (also when Redis fails)."""
        l2 = self._l2_usable()
        if l2 is None:
            return _MISSING
        try:
            record = await l2.get(key)
        except Exception as exc:
            self._l2_failed(exc)
            return _MISSING
        self._l2_ok()
        found = self._from_record(key, record, kind)
        if found is None or not found[1]:
            return _MISSING
        self.stats["l2_hits"] += 1
        return found[0].value

    def _settle(
        self, key: str, pending: asyncio.Future[Any], value: Any = None, error: BaseException | None = None
    ) -> None:
        if self._inflight.get(key) is pending:
            del self._inflight[key]
        if pending.done():
            return
        if error is None:
            pending.set_result(value)
        else:
            pending.set_exception(error)
            pending.exception()  # retrieved: waiters re-raise it, and nobody waiting is no error

    def _settle_from(self, key: str, pending: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._settle(key, pending, error=_Retry())
        elif task.exception() is not None:
            self._settle(key, pending, error=task.exception())
        else:
            self._settle(key, pending, task.result())

    async def _load(
        self,
        key: str,
        factory: Callable[[], Any],
        policy: tuple[float, float, float],
        tags: tuple[str, ...],
        kind: Any,
        timeout: float,
    ) -> Any:
        l2 = self._l2_usable()
        if l2 is None or policy == (0.0, 0.0, 0.0):
            return await self._compute_and_store(key, factory, policy, tags)
        token = secrets.token_hex(16)
        deadline = monotonic() + timeout
        delay = 0.002
        while True:
            try:
                record, locked = await l2.fetch_or_lock(key, token, max(1, int(self.lock_ttl * 1000)), _wall_ms())
            except Exception as exc:
                self._l2_failed(exc)
                return await self._compute_and_store(key, factory, policy, tags)
            self._l2_ok()
            found = self._from_record(key, record, kind)
            if found is not None and found[1]:
                self.stats["l2_hits"] += 1
                return found[0].value
            stale = found[0] if found is not None else None
            now = monotonic()
            if stale is not None and self.swr_enabled and stale.stale_until > now:
                # Serve the stale value now; refresh in the background if the lock is ours (else someone is).
                self.stats["stale_served"] += 1
                if locked:
                    self._spawn(self._refresh_locked(l2, key, factory, policy, tags, token), key)
                return stale.value
            if locked:
                try:
                    return await self._compute_and_store(key, factory, policy, tags)
                except Exception as exc:
                    if stale is not None and stale.error_until > monotonic():
                        self.stats["stale_on_error"] += 1
                        logger.warning("cache: computing %r failed (%s); serving the stale value", key, exc)
                        return stale.value
                    raise
                finally:
                    await self._release(l2, key, token)
            if now >= deadline:
                logger.warning("cache: waited %.1fs for another process to compute %r; computing here", timeout, key)
                return await self._compute_and_store(key, factory, policy, tags)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _compute_and_store(
        self,
        key: str,
        factory: Callable[[], Any],
        policy: tuple[float, float, float],
        tags: tuple[str, ...],
        publish: bool = False,
    ) -> Any:
        self.stats["loads"] += 1
        value = await _call(factory)
        if type(value) is Uncached:
            return value.value
        await self._store(key, value, policy, tags, publish=publish)
        return value

    async def _store(
        self, key: str, value: Any, policy: tuple[float, float, float], tags: tuple[str, ...], *, publish: bool
    ) -> None:
        try:
            payload = self._encode(value)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"cache value for {key!r} cannot be encoded by msgspec: {exc}") from None
        fresh, swr, sie = policy
        if fresh == 0 and swr == 0 and sie == 0:
            self.l1.delete(key)
            return
        self.l1.put(key, value, fresh_for=fresh, stale_for=swr, error_for=sie, size=len(payload), tags=tags)
        l2 = self._l2_usable()
        if l2 is None:
            return
        now = _wall_ms()
        fresh_ms = now + int(fresh * 1000)
        header = b"%s%013d%013d%013d" % (self._format, fresh_ms, fresh_ms + int(swr * 1000), fresh_ms + int(sie * 1000))
        px = max(1, int((fresh + max(swr, sie)) * 1000))
        try:
            await l2.set(key, header + payload, px, tags, self._event(k=key) if publish else b"")
            self._l2_ok()
        except Exception as exc:
            self._l2_failed(exc)

    def _from_record(self, key: str, record: bytes | None, kind: Any) -> tuple[Slot, bool] | None:
        """Decode an L2 record into an L1 slot; (slot, fresh) or None when missing, expired or unreadable."""
        if not record or len(record) < HEADER_SIZE:
            return None
        try:
            fmt = record[:1]
            fresh_ms, stale_ms, error_ms = int(record[1:14]), int(record[14:27]), int(record[27:40])
            value = _decoder(fmt, kind).decode(record[HEADER_SIZE:])
        except (ValueError, msgspec.DecodeError) as exc:  # ValidationError is a DecodeError
            logger.warning("cache: unreadable Redis record for %r (%s); treated as a miss", key, exc)
            return None
        now = _wall_ms()
        if max(fresh_ms, stale_ms, error_ms) <= now:
            return None
        slot = self.l1.put(
            key,
            value,
            fresh_for=(fresh_ms - now) / 1000,
            stale_for=(stale_ms - fresh_ms) / 1000,
            error_for=(error_ms - fresh_ms) / 1000,
            size=len(record) - HEADER_SIZE,
        )
        if slot is None:  # L1 is off or too small for it: a detached slot carries the same deadlines
            base = monotonic() + (fresh_ms - now) / 1000
            slot = Slot(
                key, value, base, base + (stale_ms - fresh_ms) / 1000, base + (error_ms - fresh_ms) / 1000, 0, ()
            )
        return slot, fresh_ms > now

    # -- background refresh ---------------------------------------------------------------------------------

    def _refresh_soon(
        self, key: str, factory: Callable[[], Any], policy: tuple[float, float, float], tags: tuple[str, ...], kind: Any
    ) -> None:
        if key in self._refreshing or key in self._inflight:
            return
        self._spawn(self._refresh(key, factory, policy, tags, kind), key)

    def _spawn(self, coro: Awaitable[Any], key: str) -> None:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._refreshing[key] = task
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda done: self._forget(self._refreshing, key, done))

    async def _refresh(
        self, key: str, factory: Callable[[], Any], policy: tuple[float, float, float], tags: tuple[str, ...], kind: Any
    ) -> None:
        l2 = self._l2_usable()
        try:
            if l2 is None:
                await self._compute_and_store(key, factory, policy, tags)
                return
            token = secrets.token_hex(16)
            try:
                record, locked = await l2.fetch_or_lock(key, token, max(1, int(self.lock_ttl * 1000)), _wall_ms())
            except Exception as exc:
                self._l2_failed(exc)
                await self._compute_and_store(key, factory, policy, tags)
                return
            self._l2_ok()
            found = self._from_record(key, record, kind)
            if (found is not None and found[1]) or not locked:
                return  # already refreshed by another process, or being refreshed by one
            await self._refresh_locked(l2, key, factory, policy, tags, token)
        except Exception as exc:
            logger.warning("cache: background refresh of %r failed (%s); the stale value stays until it ends", key, exc)

    async def _refresh_locked(
        self,
        l2: RedisCacheStore,
        key: str,
        factory: Callable[[], Any],
        policy: tuple[float, float, float],
        tags: tuple[str, ...],
        token: str,
    ) -> None:
        try:
            await self._compute_and_store(key, factory, policy, tags)
        except Exception as exc:
            logger.warning("cache: background refresh of %r failed (%s); the stale value stays until it ends", key, exc)
        finally:
            await self._release(l2, key, token)

    async def _release(self, l2: RedisCacheStore, key: str, token: str) -> None:
        try:
            await l2.release(key, token)
        except Exception as exc:  # the lock expires by itself
            self._l2_failed(exc)

    @staticmethod
    def _forget(tasks: dict[str, Any], key: str, done: asyncio.Future[Any]) -> None:
        if tasks.get(key) is done:
            del tasks[key]

    # -- Redis health, pub/sub ------------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Tasks and Redis connections belong to the loop that made them (a test client may run each request
            # in a new loop): start afresh in this one.
            self._loop = loop
            self._inflight.clear()
            self._refreshing.clear()
            self._background.clear()
            self._listener = None

    def _l2_usable(self) -> RedisCacheStore | None:
        l2 = self.l2
        if l2 is None or (self._l2_down and monotonic() < self._retry_at):
            return None
        if self._listener is None or self._listener.done():
            self._ensure_listener()
        return l2

    def _l2_failed(self, exc: BaseException) -> None:
        self.stats["l2_errors"] += 1
        self._retry_at = monotonic() + self.retry_interval
        if not self._l2_down:
            self._l2_down = True
            logger.warning(
                "cache: Redis (L2) is unavailable (%s: %s); serving from memory and the factory, retrying every %gs",
                type(exc).__name__,
                exc,
                self.retry_interval,
            )

    def _l2_ok(self) -> None:
        if self._l2_down:
            self._l2_down = False
            # Invalidations published while Redis was away never reached this process.
            self.l1.clear()
            logger.info("cache: Redis (L2) is reachable again; memory tier emptied to resynchronise")

    def _event(self, **fields: Any) -> bytes:
        fields["o"] = self._origin
        return _event_encoder.encode(fields)

    def _apply_event(self, data: bytes) -> None:
        try:
            event = _event_decoder.decode(data)
        except msgspec.DecodeError:
            return
        if not isinstance(event, dict) or event.get("o") == self._origin:
            return
        if "k" in event:
            self.l1.delete(event["k"])
        elif "p" in event:
            self.l1.invalidate_prefix(event["p"])
        elif "t" in event:
            self.l1.invalidate_tags(event["t"])
            for key in event.get("ks", ()):
                self.l1.delete(key)
        elif "v" in event:
            namespace, version = event["v"]
            self.namespace_versions[namespace] = max(self.namespace_versions.get(namespace, 1), int(version))
        elif "c" in event:
            self.l1.clear()

    async def _load_versions(self, l2: RedisCacheStore) -> None:
        for namespace, count in (await l2.versions()).items():
            self.namespace_versions[namespace] = max(self.namespace_versions.get(namespace, 1), count + 1)

    def _ensure_listener(self) -> None:
        if self.l2 is None or (self._listener is not None and not self._listener.done()):
            return
        self._listener = asyncio.get_running_loop().create_task(self._listen(self.l2))

    async def _listen(self, l2: RedisCacheStore) -> None:
        reconnecting = False
        while not self._closing:
            pubsub = None
            try:
                pubsub = l2.pubsub()
                await pubsub.subscribe(l2.channel)
                if reconnecting:
                    self.l1.clear()  # what was published while we were not listening is lost
                    await self._load_versions(l2)
                    reconnecting = False
                self._l2_ok()
                while not self._closing:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._apply_event(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closing:
                    return
                reconnecting = True
                self._l2_failed(exc)
                await asyncio.sleep(self.retry_interval)
            finally:
                if pubsub is not None:
                    with suppress(Exception):
                        await pubsub.aclose()


def _check_key(key: Any) -> None:
    if type(key) is not str:
        raise TypeError(f"cache keys are str, not {type(key).__name__}")


class CacheFacade(Cache):
    """The reference's name and constructor for :class:`Cache` (``cache_enabled``, ``cache_l2_enabled``,
    ``cache_swr_enabled``, ``namespace_versions``). Note the reference's default: disabled until told."""

    def __init__(
        self,
        l1: MemoryCacheStore | None = None,
        l2: RedisCacheStore | None = None,
        cache_enabled: bool = False,
        cache_l2_enabled: bool = False,
        cache_swr_enabled: bool = False,
        namespace_versions: dict[str, int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            l1=l1, l2=l2 if cache_l2_enabled else None, enabled=cache_enabled, swr_enabled=cache_swr_enabled, **options
        )
        self.namespace_versions.update(namespace_versions or {})

    @property
    def cache_enabled(self) -> bool:
        """The reference's name of :attr:`enabled`."""
        return self.enabled


__all__ = ["Cache", "CacheFacade", "Uncached"]
