"""Token-bucket rate limiting: an in-process limiter with bounded memory, a Redis one shared by every worker and
machine, and the ``rate_limit`` decorator (429 with ``Retry-After`` and ``X-RateLimit-*``).

Example:
    >>> from gobstopper.utils.rate_limiter import TokenBucketLimiter, rate_limit
    >>> limiter = TokenBucketLimiter(rate=5, capacity=10)  # 5 tokens/s, bursts of 10
    >>> @app.get("/limited")
    ... @rate_limit(limiter, key=lambda req: req.client_ip)
    ... async def limited(request):
    ...     return {"ok": True}

Keys default to ``request.client_ip``, which believes ``X-Forwarded-For`` only from ``app.trusted_proxies``.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread


@dataclass(frozen=True)
class RateLimitResult:
    """The outcome of one check.

    Attributes:
        allowed: whether the request may proceed.
        limit: the bucket capacity.
        remaining: whole tokens left after this request.
        retry_after: seconds until the request would be allowed (0 when allowed).
        reset_after: seconds until the bucket is full again.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float

    def __bool__(self) -> bool:
        return self.allowed


def _check_params(rate: float, capacity: int) -> None:
    if rate <= 0 or capacity <= 0:
        raise ValueError("rate and capacity must be positive")


class TokenBucketLimiter:
    """A token bucket per key, in this process (use :class:`RedisTokenBucketLimiter` for several workers).

    Memory is bounded: at most ``max_keys`` buckets are kept, least recently used dropped first (a dropped key
    starts again with a full bucket, so the bound is a trade-off: keep it above the number of active clients).

    Args:
        rate: tokens added per second.
        capacity: bucket size (the burst).
        max_keys: the most buckets kept.
    """

    def __init__(self, rate: float, capacity: int, max_keys: int = 100_000) -> None:
        _check_params(rate, capacity)
        self.rate = float(rate)
        self.capacity = int(capacity)
        self.max_keys = int(max_keys)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = time.monotonic

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str, cost: float = 1.0) -> RateLimitResult:
        """Take ``cost`` tokens from ``key``'s bucket if it has them."""
        now = self._clock()
        with self._lock:
            buckets = self._buckets
            tokens, stamp = buckets.pop(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - stamp) * self.rate)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            buckets[key] = (tokens, now)
            while len(buckets) > self.max_keys:
                buckets.popitem(last=False)
        retry = 0.0 if allowed else (cost - tokens) / self.rate
        return RateLimitResult(allowed, self.capacity, int(tokens), retry, (self.capacity - tokens) / self.rate)

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Whether a request of ``cost`` tokens may proceed (and take them)."""
        return self.check(key, cost).allowed

    def reset(self, key: str | None = None) -> None:
        """Forget one key's bucket, or all of them."""
        with self._lock:
            if key is None:
                self._buckets.clear()
            else:
                self._buckets.pop(key, None)


# Atomic in Redis: refill from the server's clock (same for every host), take the cost, store with an expiry.
_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', key, math.ceil((capacity / rate) * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisTokenBucketLimiter:
    """A token bucket per key in Redis, shared by every worker and machine using the same Redis.

    Each check is one atomic Lua script using Redis' clock; idle buckets expire once they would be full again,
    so Redis memory stays bounded by the number of recently active keys.

    Args:
        client: a ``redis.asyncio.Redis`` client.
        rate: tokens added per second.
        capacity: bucket size (the burst).
        prefix: key prefix.
    """

    def __init__(self, client: Any, rate: float, capacity: int, prefix: str = "ratelimit:") -> None:
        _check_params(rate, capacity)
        self.client = client
        self.rate = float(rate)
        self.capacity = int(capacity)
        self.prefix = prefix
        self._script: Any = None

    async def check(self, key: str, cost: float = 1.0) -> RateLimitResult:
        """Take ``cost`` tokens from ``key``'s bucket if it has them (one round trip)."""
        if self._script is None:
            self._script = self.client.register_script(_LUA)
        allowed, tokens = await self._script(keys=[self.prefix + key], args=[self.rate, self.capacity, cost])
        tokens = float(tokens)
        ok = bool(int(allowed))
        retry = 0.0 if ok else (cost - tokens) / self.rate
        return RateLimitResult(ok, self.capacity, int(tokens), retry, (self.capacity - tokens) / self.rate)

    async def allow(self, key: str, cost: float = 1.0) -> bool:
        """Whether a request of ``cost`` tokens may proceed (and take them)."""
        return (await self.check(key, cost)).allowed

    async def reset(self, key: str) -> None:
        """Forget one key's bucket."""
        await self.client.delete(self.prefix + key)


def _default_key(request: Any) -> str:
    return str(request.client_ip)


async def check_limit(limiter: Any, key: str, cost: float = 1.0) -> RateLimitResult:
    """Run ``limiter.check`` whether it is synchronous (in-process) or asynchronous (Redis)."""
    result = limiter.check(key, cost)
    if inspect.isawaitable(result):
        result = await result
    return result  # type: ignore[no-any-return]


def rate_limit_headers(result: RateLimitResult) -> dict[str, str]:
    """``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (and ``Retry-After`` when refused) for a result."""
    headers = {
        "X-RateLimit-Limit": str(result.limit),
        "X-RateLimit-Remaining": str(max(0, result.remaining)),
        "X-RateLimit-Reset": str(math.ceil(result.reset_after)),
    }
    if not result.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(result.retry_after)))
    return headers


def too_many_requests(result: RateLimitResult) -> Any:
    """The 429 answer (problem details) for a refused result."""
    from ..http.problem import problem

    return problem(429, "Too many requests; retry later.", headers=rate_limit_headers(result))


def rate_limit(
    limiter: TokenBucketLimiter | RedisTokenBucketLimiter,
    key: Callable[[Any], str | None] | None = None,
    cost: float = 1.0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a handler so each call takes ``cost`` tokens from the bucket of ``key(request)``.

    A refused request is a 429 with ``Retry-After`` and ``X-RateLimit-*``; an allowed one gets ``X-RateLimit-*``.
    ``key`` defaults to ``request.client_ip``; a key of None skips the limit for that request.

    Example:
        >>> @app.get("/api/x")
        ... @rate_limit(TokenBucketLimiter(rate=5, capacity=10), key=lambda req: req.client_ip)
        ... async def handler(request):
        ...     return {"ok": True}
    """
    key_func = key or _default_key

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        is_async = inspect.iscoroutinefunction(handler)

        @functools.wraps(handler)
        async def limited(request: Any, *args: Any, **kwargs: Any) -> Any:
            from ..core._returns import to_response

            bucket = key_func(request)
            if bucket is None:
                result = None
            else:
                result = await check_limit(limiter, str(bucket), cost)
                if not result.allowed:
                    return too_many_requests(result)
            if is_async:
                rv = await handler(request, *args, **kwargs)
            else:
                rv = await anyio.to_thread.run_sync(functools.partial(handler, request, *args, **kwargs))
            if result is None:
                return rv
            response = to_response(rv)
            response.headers.update(rate_limit_headers(result))
            return response

        return limited

    return decorator


class RateLimitMiddleware:
    """Apply a limiter to every request of an app or blueprint (``app.add_middleware(RateLimitMiddleware(...))``).

    Args:
        limiter: a :class:`TokenBucketLimiter` or :class:`RedisTokenBucketLimiter`.
        key: the bucket of a request (``request.client_ip`` by default; None skips).
        cost: tokens per request.
    """

    def __init__(
        self,
        limiter: TokenBucketLimiter | RedisTokenBucketLimiter,
        key: Callable[[Any], str | None] | None = None,
        cost: float = 1.0,
    ) -> None:
        self.limiter = limiter
        self.key = key or _default_key
        self.cost = cost
        self.__name__ = "rate_limit"

    async def __call__(self, request: Any, call_next: Callable[[Any], Any]) -> Any:
        bucket = self.key(request)
        if bucket is None:
            return await call_next(request)
        result = await check_limit(self.limiter, str(bucket), self.cost)
        if not result.allowed:
            return too_many_requests(result)
        response = await call_next(request)
        response.headers.update(rate_limit_headers(result))
        return response


class RateLimiter(TokenBucketLimiter):
    """The reference's ``RateLimiter(max_requests, window)``: a bucket of ``max_requests`` refilled over ``window``
    seconds. ``check(key)`` is truthy when the request may proceed."""

    def __init__(self, max_requests: int, window: float, max_keys: int = 100_000) -> None:
        super().__init__(rate=max_requests / window, capacity=max_requests, max_keys=max_keys)


__all__ = [
    "RateLimitMiddleware",
    "RateLimitResult",
    "RateLimiter",
    "RedisTokenBucketLimiter",
    "TokenBucketLimiter",
    "check_limit",
    "rate_limit",
    "rate_limit_headers",
]
