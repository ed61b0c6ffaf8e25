"""Rate limiting: token buckets in memory (bounded) and in a real Redis; 429 + Retry-After (row 46)."""

from __future__ import annotations

import tracemalloc
import uuid
from typing import Any

import pytest
from _services import service_url

from gobstopper import Gobstopper
from gobstopper.testing import TestClient
from gobstopper.utils.rate_limiter import (
    RateLimiter,
    RateLimitMiddleware,
    RedisTokenBucketLimiter,
    TokenBucketLimiter,
    rate_limit,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_burst_refill_and_retry_after() -> None:
    limiter = TokenBucketLimiter(rate=2, capacity=3)
    clock = limiter._clock = Clock()
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    denied = limiter.check("a")
    assert not denied and denied.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")  # buckets are per key
    clock.now += 100
    assert limiter.check("a").remaining == 2  # refilled to capacity, minus this request


def test_memory_is_bounded_for_100k_keys() -> None:
    limiter = TokenBucketLimiter(rate=1, capacity=1, max_keys=1000)
    tracemalloc.start()
    for i in range(100_000):
        limiter.allow(f"k{i}")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(limiter) == 1000
    assert peak < 5_000_000


def test_reference_rate_limiter_name() -> None:
    limiter = RateLimiter(max_requests=2, window=60)
    assert limiter.check("ip") and limiter.check("ip") and not limiter.check("ip")


def make_app(limiter: Any, trusted: list[str] | None = None) -> Gobstopper:
    app = Gobstopper(__name__)
    app.trusted_proxies = trusted

    @app.get("/limited")
    @rate_limit(limiter, key=lambda req: req.client_ip)
    async def limited(request: Any) -> Any:
        return {"ok": True}

    @app.get("/sync/<int:n>")
    @rate_limit(limiter, key=lambda req: "sync")
    def sync_handler(request: Any, n: int) -> Any:
        return {"n": n}

    return app


def test_decorator_answers_429_with_headers() -> None:
    app = make_app(TokenBucketLimiter(rate=0.5, capacity=2))
    with TestClient(app) as client:
        first = client.get("/limited")
        assert first.status_code == 200
        assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
        assert client.get("/limited").status_code == 200
        r = client.get("/limited")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.headers["x-ratelimit-remaining"] == "0" and "x-ratelimit-reset" in r.headers


def test_decorator_keeps_path_params_and_sync_handlers() -> None:
    app = make_app(TokenBucketLimiter(rate=0.01, capacity=1))
    with TestClient(app) as client:
        assert client.get("/sync/7").json() == {"n": 7}
        assert client.get("/sync/8").status_code == 429


def test_rotating_x_forwarded_for_is_ignored_without_a_trusted_proxy() -> None:
    app = make_app(TokenBucketLimiter(rate=0.01, capacity=2))
    with TestClient(app) as client:
        statuses = [client.get("/limited", headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 429, 429, 429]


def test_x_forwarded_for_counts_from_a_trusted_proxy() -> None:
    app = make_app(TokenBucketLimiter(rate=0.01, capacity=1), trusted=["127.0.0.0/8"])
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        statuses = [client.get("/limited", headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code for i in range(3)]
        assert statuses == [200, 200, 200]
        assert client.get("/limited", headers={"x-forwarded-for": "10.0.0.1"}).status_code == 429


def test_middleware_form() -> None:
    app = Gobstopper(__name__)
    app.add_middleware(RateLimitMiddleware(TokenBucketLimiter(rate=0.01, capacity=1)))

    @app.get("/")
    async def index(request: Any) -> Any:
        return {}

    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        assert client.get("/nope").status_code == 429


def test_redis_limiter_is_shared_and_atomic() -> None:
    from redis.asyncio import Redis

    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    prefix = f"rl:{uuid.uuid4().hex}:"
    app = Gobstopper(__name__)
    clients: list[Any] = []

    @app.on_startup
    async def connect() -> None:
        clients.append(Redis.from_url(url))
        clients.append(Redis.from_url(url))

    @app.on_shutdown
    async def close() -> None:
        for c in clients:
            await c.aclose()

    @app.get("/hit/<int:which>")
    async def hit(request: Any, which: int) -> Any:
        # Two limiters on two connections stand for two workers sharing one Redis.
        limiter = RedisTokenBucketLimiter(clients[which], rate=0.01, capacity=5, prefix=prefix)
        result = await limiter.check("client")
        return {"allowed": result.allowed, "retry": result.retry_after}

    with TestClient(app) as client:
        results = [client.get(f"/hit/{i % 2}").json() for i in range(9)]
    assert [r["allowed"] for r in results] == [True] * 5 + [False] * 4
    assert results[-1]["retry"] > 0


def test_redis_limiter_with_the_decorator() -> None:
    from redis.asyncio import Redis

    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    app = Gobstopper(__name__)
    holder: dict[str, Any] = {}

    @app.on_startup
    async def connect() -> None:
        holder["redis"] = Redis.from_url(url)
        holder["limiter"] = RedisTokenBucketLimiter(holder["redis"], rate=1, capacity=2, prefix=f"{uuid.uuid4()}:")

    @app.on_shutdown
    async def close() -> None:
        await holder["redis"].aclose()

    class Lazy:
        async def check(self, key: str, cost: float = 1.0) -> Any:
            return await holder["limiter"].check(key, cost)

    @app.get("/x")
    @rate_limit(Lazy())  # type: ignore[arg-type]
    async def x(request: Any) -> Any:
        return {}

    with TestClient(app) as client:
        statuses = [client.get("/x").status_code for _ in range(3)]
        r = client.get("/x")
    assert statuses == [200, 200, 429] and r.headers["retry-after"] == "1"
