"""Sessions and rate limits in Redis, for the two-worker test (GOBSTOPPER_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import time

from redis.asyncio import Redis

from gobstopper import Gobstopper
from gobstopper.middleware import SecurityMiddleware
from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage
from gobstopper.utils.rate_limiter import RedisTokenBucketLimiter

app = Gobstopper(__name__)
redis = Redis.from_url(os.environ["GOBSTOPPER_TEST_REDIS_URL"])
app.add_middleware(
    SecurityMiddleware(
        secret_key="two-workers-share-this-key-0123456789",
        session_storage=AsyncRedisSessionStorage(redis, key_prefix="workers:"),
        enable_csrf=False,
    ),
    priority=1000,
)
limiter = RedisTokenBucketLimiter(redis, rate=0.001, capacity=10, prefix="workers-rl:")


@app.on_shutdown
async def close() -> None:
    await redis.aclose()


@app.get("/__compat_ready")
async def ready(request):
    return "ok"


@app.get("/login/<user>")
async def login(request, user: str):
    request.session["user"] = user
    return {"pid": os.getpid()}


def block(request) -> None:
    # Blocks this worker's event loop for a moment, so concurrent connections go to the other worker.
    time.sleep(min(float(request.get_str("block", "0")), 1.0))


@app.get("/whoami")
async def whoami(request):
    block(request)
    return {"pid": os.getpid(), "user": request.session.get("user")}


@app.get("/limited/<bucket>")
async def limited(request, bucket: str):
    block(request)
    result = await limiter.check(bucket)
    return {"pid": os.getpid()}, (200 if result.allowed else 429)
