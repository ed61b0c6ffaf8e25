"""Idempotency keys for unsafe endpoints: a retried request with the same ``Idempotency-Key`` gets the first
answer again instead of running twice.

The in-memory store (the default) serves one process; :class:`RedisIdempotencyStore` is shared by every worker and
machine. Keys are scoped to the method, path and caller (session id, else a hash of ``Authorization``, else the
client IP), so two callers choosing the same key never see each other's answers. A key reused with a different
body is a 422; a key whose first request is still running is a 409.

Example:
    >>> @app.post("/payments")
    ... @use_idempotency(ttl_seconds=3600)
    ... async def pay(request):
    ...     return {"paid": True}, 201
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import msgspec

_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_INFLIGHT = "__inflight__"


class MemoryIdempotencyStore:
    """A bounded in-process TTL store (least recently used entries go first beyond ``max_entries``).

    Args:
        max_entries: the most keys kept.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def _put(self, key: str, value: Any, ttl: float) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def get(self, key: str) -> Any | None:
        """The stored value, or None when missing or expired."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._data[key]
                return None
            return entry[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        with self._lock:
            self._put(key, value, ttl)

    def reserve(self, key: str, ttl: float) -> bool:
        """Mark ``key`` in flight unless it is already known; True when this caller got it."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] > time.monotonic():
                return False
            self._put(key, _INFLIGHT, ttl)
            return True

    def release(self, key: str) -> None:
        """Forget an in-flight mark (the request failed and may be retried)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[1] == _INFLIGHT:
                del self._data[key]


class RedisIdempotencyStore:
    """Idempotency records in Redis (``SET … NX EX`` reservations), shared by every worker.

    Args:
        client: a ``redis.asyncio.Redis`` client.
        prefix: key prefix.
    """

    def __init__(self, client: Any, prefix: str = "idempotency:") -> None:
        self.client = client
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""
        raw = await self.client.get(self.prefix + key)
        return None if raw is None else msgspec.json.decode(raw)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        await self.client.set(self.prefix + key, msgspec.json.encode(value), px=max(1, int(ttl * 1000)))

    async def reserve(self, key: str, ttl: float) -> bool:
        """Mark ``key`` in flight unless it exists (atomic ``SET NX``)."""
        encoded = msgspec.json.encode(_INFLIGHT)
        return bool(await self.client.set(self.prefix + key, encoded, px=max(1, int(ttl * 1000)), nx=True))

    async def release(self, key: str) -> None:
        """Forget an in-flight mark."""
        raw = await self.client.get(self.prefix + key)
        if raw is not None and msgspec.json.decode(raw) == _INFLIGHT:
            await self.client.delete(self.prefix + key)


_default_store = MemoryIdempotencyStore()


async def _call(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result


def remember_idempotency(key: str, value: Any, ttl_seconds: float = 60.0) -> None:
    """Store ``value`` under ``key`` for ``ttl_seconds`` in the default in-memory store."""
    _default_store.set(key, value, ttl_seconds)


def get_idempotent(key: str) -> Any | None:
    """The value stored under ``key`` in the default in-memory store, if present and not expired."""
    value = _default_store.get(key)
    return None if value == _INFLIGHT else value


def default_scope(request: Any) -> str:
    """Method, path and caller: the session id, else a hash of ``Authorization``, else the client IP."""
    caller = getattr(request, "_session_id", None)
    if not caller:
        auth = request.header("authorization")
        caller = "auth:" + hashlib.sha256(auth.encode()).hexdigest() if auth else "ip:" + str(request.client_ip)
    return f"{request.method} {request.root_path}{request.path} {caller}"


def _snapshot(response: Any, fingerprint: str) -> dict[str, Any] | None:
    if response.kind != "bytes" or response.status >= 500:
        return None
    body = response.body.encode() if isinstance(response.body, str) else response.body
    headers = [[n, v] for n, v in response.raw_headers if n != "set-cookie"]
    return {"status": response.status, "headers": headers, "body": base64.b64encode(body).decode(), "fp": fingerprint}


def _replay(snapshot: dict[str, Any]) -> Any:
    from ..http.response import Response

    response = Response(base64.b64decode(snapshot["body"]), status=int(snapshot["status"]))
    response.raw_headers[:] = [(str(n), str(v)) for n, v in snapshot["headers"]]
    response.headers["idempotent-replayed"] = "true"
    return response


def use_idempotency(
    ttl_seconds: float = 60.0,
    store: MemoryIdempotencyStore | RedisIdempotencyStore | None = None,
    scope: Callable[[Any], str] = default_scope,
    header: str = "Idempotency-Key",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a handler so repeated requests with the same idempotency key get the first answer.

    The key comes from the ``Idempotency-Key`` header or the ``idempotency_key`` query parameter; requests
    without one run normally. Answers below 500 with a bytes body are kept for ``ttl_seconds`` and replayed with
    ``Idempotent-Replayed: true`` (``Set-Cookie`` is never replayed). A malformed key is a 400.

    Args:
        ttl_seconds: how long an answer is kept.
        store: :class:`MemoryIdempotencyStore` (default, one process) or :class:`RedisIdempotencyStore`.
        scope: what a key is scoped to (see :func:`default_scope`).
        header: the request header carrying the key.
    """
    chosen = store if store is not None else _default_store

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        is_async = inspect.iscoroutinefunction(handler)

        @functools.wraps(handler)
        async def idempotent(request: Any, *args: Any, **kwargs: Any) -> Any:
            from ..core._returns import to_response
            from ..http.problem import problem

            key = request.header(header.lower()) or request.get_str("idempotency_key")
            if key is None:
                return await _run(request, args, kwargs)
            if _KEY.fullmatch(key) is None:
                return problem(400, "Invalid Idempotency-Key (1 to 255 printable ASCII characters).")
            fingerprint = hashlib.sha256(await request.get_data()).hexdigest()
            full_key = hashlib.sha256(f"{scope(request)}\x00{key}".encode()).hexdigest()
            stored = await _call(chosen.get(full_key))
            if stored is None and await _call(chosen.reserve(full_key, ttl_seconds)):
                try:
                    response = to_response(await _run(request, args, kwargs))
                except BaseException:
                    await _call(chosen.release(full_key))
                    raise
                snapshot = _snapshot(response, fingerprint)
                if snapshot is None:
                    await _call(chosen.release(full_key))
                else:
                    await _call(chosen.set(full_key, snapshot, ttl_seconds))
                return response
            if stored is None:
                stored = await _call(chosen.get(full_key))
            if stored is None or stored == _INFLIGHT:
                return problem(409, "A request with this Idempotency-Key is still being processed.")
            if stored.get("fp") != fingerprint:
                return problem(422, "This Idempotency-Key was used with a different request body.")
            return _replay(stored)

        async def _run(request: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if is_async:
                return await handler(request, *args, **kwargs)
            return await anyio.to_thread.run_sync(functools.partial(handler, request, *args, **kwargs))

        return idempotent

    return decorator


__all__ = [
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "default_scope",
    "get_idempotent",
    "remember_idempotency",
    "use_idempotency",
]
