"""The cache on a real Redis: singleflight across processes, stale-while-revalidate across processes, pub/sub
invalidation, safe lock release, and Redis stopped in the middle of a test (its own redis-server)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from compat_tests.harness import RealServer, ServerKey
from gobstopper import Gobstopper
from gobstopper.cache import Cache, MemoryCacheStore, RedisCacheStore, cache_from_env, cached
from gobstopper.testing import TestClient
from tests._services import service_url

ROOT = Path(__file__).resolve().parent.parent


def prefix() -> str:
    return f"t:{uuid.uuid4().hex}:"


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# -- across processes ---------------------------------------------------------------------------------------

WORKER = """
import asyncio, json, os, sys, time
from redis.asyncio import Redis
from gobstopper.cache import Cache, RedisCacheStore

url, prefix, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def main():
    redis = Redis.from_url(url)
    cache = Cache(l2=RedisCacheStore(redis, prefix=prefix))

    async def factory():
        await redis.incr(prefix + "factory-runs")
        await asyncio.sleep(0.3)
        return {"answer": 42, "pid": os.getpid()}

    await redis.incr(prefix + "ready")
    deadline = time.monotonic() + 60
    while not await redis.exists(prefix + "go") and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    results = await asyncio.gather(*(cache.get_or_set("hot", factory, ttl=60) for _ in range(calls)))
    print(json.dumps({"results": results, "stats": cache.stats}))
    await cache.close()
    await redis.aclose()

asyncio.run(main())
"""


def test_a_thousand_concurrent_misses_in_four_processes_run_the_factory_once() -> None:
    from redis import Redis

    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    keys = prefix()
    redis = Redis.from_url(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, keys, "250"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for _ in range(4)
    ]
    try:
        deadline = time.monotonic() + 60
        while int(redis.get(keys + "ready") or 0) < 4:
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "workers did not start"
            time.sleep(0.01)
        redis.set(keys + "go", 1)
        outputs = [w.communicate(timeout=60) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err.decode()
    reports = [json.loads(out) for out, _ in outputs]
    results = [r for report in reports for r in report["results"]]
    assert int(redis.get(keys + "factory-runs")) == 1
    assert len(results) == 1000 and len({json.dumps(r) for r in results}) == 1
    assert sum(report["stats"]["loads"] for report in reports) == 1
    assert sorted(report["stats"]["misses"] for report in reports) == [1, 1, 1, 1]  # one per process
    redis.close()


def test_stale_while_revalidate_serves_the_old_value_while_one_refresh_runs() -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        keys = prefix()
        a = Cache(l2=RedisCacheStore(url=url, prefix=keys))  # two processes' caches on one Redis
        b = Cache(l2=RedisCacheStore(url=url, prefix=keys))
        runs: list[int] = []

        async def factory() -> dict[str, int]:
            runs.append(1)
            await asyncio.sleep(0.3)
            return {"v": len(runs)}

        options: dict[str, Any] = {"ttl": 0.2, "stale_while_revalidate": 30}
        assert await a.get_or_set("k", factory, **options) == {"v": 1}
        assert await b.get_or_set("k", factory, **options) == {"v": 1}  # from Redis
        await asyncio.sleep(0.3)  # now stale everywhere
        answers = await asyncio.gather(*(c.get_or_set("k", factory, **options) for c in (a, b) * 100))
        assert all(v == {"v": 1} for v in answers)
        await eventually(lambda: len(runs) == 2)  # the refresh is running (its factory takes a while)
        assert a._refreshing or b._refreshing
        assert await a.get_or_set("k", factory, **options) == {"v": 1}  # still the old value meanwhile
        assert await b.get_or_set("k", factory, **options) == {"v": 1}
        await eventually(lambda: not a._refreshing and not b._refreshing)

        async def sees_new(cache: Cache) -> bool:
            return await cache.get_or_set("k", factory, **options) == {"v": 2}

        await eventually(lambda: sees_new(a))
        await eventually(lambda: sees_new(b))
        assert len(runs) == 2  # one refresh for both caches: the lock
        await a.close()
        await b.close()

    asyncio.run(main())


# -- invalidation between processes -------------------------------------------------------------------------


def test_writes_and_invalidations_reach_the_other_processes_memory() -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        keys = prefix()
        a = Cache(l2=RedisCacheStore(url=url, prefix=keys))
        b = Cache(l2=RedisCacheStore(url=url, prefix=keys))
        await a.start()
        await b.start()

        await a.set("user:1", {"name": "old"}, tags=["users"])
        assert await b.get("user:1") == {"name": "old"}  # now in b's memory too
        await a.set("user:1", {"name": "new"}, tags=["users"])
        await eventually(lambda: b.l1.peek("user:1") is None)
        assert await b.get("user:1") == {"name": "new"}

        await a.delete("user:1")
        await eventually(lambda: b.l1.peek("user:1") is None)
        assert await b.get("user:1") is None

        await a.set("page:1", 1)
        await a.set("page:2", 2)
        assert await b.get("page:1") == 1 and await b.get("page:2") == 2
        assert await a.invalidate_prefix("page:") == 2
        await eventually(lambda: len(b.l1) == 0)

        await a.set("user:2", 2, tags=["users"])
        assert await b.get("user:2") == 2  # read from Redis: b's memory does not know the tag
        assert await a.invalidate_tags("users") == 1
        await eventually(lambda: b.l1.peek("user:2") is None)

        before = b.build_key("users", params={"id": 1})
        assert await a.bump_version("users") == "v2"
        await eventually(lambda: b.build_key("users", params={"id": 1}) != before)
        late = Cache(l2=RedisCacheStore(url=url, prefix=keys))
        await late.start()  # a process started later learns the version from Redis
        assert late.build_key("users", params={"id": 1}) == b.build_key("users", params={"id": 1})
        assert await b.bump_version("users") == "v3"

        await a.set("x", 1)
        assert await b.get("x") == 1
        await a.clear()
        await eventually(lambda: len(b.l1) == 0)
        for cache in (a, b, late):
            await cache.close()

    asyncio.run(main())


def test_the_lock_is_released_only_by_its_holder() -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        store = RedisCacheStore(url=url, prefix=prefix())
        assert await store.lock("k", "token-a", 50)
        assert not await store.lock("k", "token-b", 50)
        await asyncio.sleep(0.1)  # a's lock expired (its holder was too slow)
        assert await store.lock("k", "token-b", 5000)
        assert not await store.release("k", "token-a")  # a must not free b's lock
        assert await store.client.get(store.lock_key("k")) == b"token-b"
        assert await store.release("k", "token-b")
        assert await store.client.get(store.lock_key("k")) is None
        await store.close()

    asyncio.run(main())


# -- encoding -----------------------------------------------------------------------------------------------


class Item(msgspec.Struct):
    id: int
    name: str


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_values_are_msgspec_records_decoded_to_the_asked_type(serializer: str) -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        keys = prefix()
        writer = Cache(l2=RedisCacheStore(url=url, prefix=keys), serializer=serializer)
        await writer.set("item", Item(1, "x"))
        await writer.set("blob", b"\x00\xff")
        raw = await writer.l2.client.get(writer.l2.value_key("item"))  # type: ignore[union-attr]
        assert raw[:1] == serializer[:1].encode()
        if serializer == "json":
            assert raw[40:] == b'{"id":1,"name":"x"}'
        reader = Cache(l2=RedisCacheStore(url=url, prefix=keys))  # the other format: the record says which
        assert await reader.get("item", type=Item) == Item(1, "x")
        plain = Cache(l2=RedisCacheStore(url=url, prefix=keys))
        assert await plain.get("item") == {"id": 1, "name": "x"}
        assert await plain.get("blob", type=bytes) == b"\x00\xff"
        for cache in (writer, reader, plain):
            await cache.close()

    asyncio.run(main())


def test_unreadable_records_are_misses() -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        cache = Cache(l2=RedisCacheStore(url=url, prefix=prefix()))
        await cache.l2.client.set(cache.l2.value_key("bad"), b"garbage")  # type: ignore[union-attr]
        await cache.l2.client.set(cache.l2.value_key("typed"), b"m" + b"9" * 39 + b"\xc0")  # type: ignore[union-attr]
        assert await cache.get("bad") is None
        assert await cache.get("typed", type=Item) is None
        assert await cache.get_or_set("bad", lambda: "fixed", ttl=5) == "fixed"
        await cache.close()

    asyncio.run(main())


def test_redis_only_hits_and_a_shared_client() -> None:
    from redis.asyncio import Redis

    url = service_url("GOBSTOPPER_TEST_REDIS_URL")

    async def main() -> None:
        client = Redis.from_url(url)
        cache = cache_from_env(
            redis=client, environ={"GOBSTOPPER_CACHE_KEY_PREFIX": prefix()}, l1=MemoryCacheStore(max_entries=0)
        )
        assert cache.l2 is not None and cache.l2.client is client
        calls: list[int] = []
        for _ in range(3):
            assert await cache.get_or_set("k", lambda: calls.append(1) or "v", ttl=30) == "v"
        assert calls == [1] and cache.stats["l2_hits"] == 2
        await cache.close()
        assert await client.ping()  # a shared client is left open
        with pytest.raises(ValueError, match="decode_responses"):
            RedisCacheStore(Redis.from_url(url, decode_responses=True))
        await client.aclose()

    asyncio.run(main())


def test_cached_responses_are_shared_through_redis() -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    keys = prefix()
    runs: list[str] = []

    def make_app() -> Gobstopper:
        app = Gobstopper(__name__)
        app.init_cache_from_env(
            environ={"GOBSTOPPER_CACHE_REDIS_URL": url, "GOBSTOPPER_CACHE_KEY_PREFIX": keys,
                     "GOBSTOPPER_CACHE_SERIALIZER": "json"}
        )  # fmt: skip

        @app.get("/report")
        @cached(ttl=30)
        async def report(request: Any) -> Any:
            runs.append("report")
            return {"rows": [1, 2, 3]}

        return app

    with TestClient(make_app()) as first:
        one = first.get("/report")
    with TestClient(make_app()) as second:  # another worker: empty memory, same Redis
        two = second.get("/report")
    assert runs == ["report"]
    assert one.json() == two.json() == {"rows": [1, 2, 3]}
    assert two.headers["content-type"] == "application/json"


# -- Redis going away ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A redis-server this test starts and stops itself."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/setup installs it)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_stopped_mid_test_answers_still_come(own_redis: OwnRedis, caplog: pytest.LogCaptureFixture) -> None:
    from redis import Redis

    app = Gobstopper(__name__)
    cache = app.init_cache_from_env(
        environ={"GOBSTOPPER_CACHE_REDIS_URL": own_redis.url, "GOBSTOPPER_CACHE_RETRY_INTERVAL": "0.2"}
    )
    computed: list[str] = []

    @app.get("/value/<name>")
    async def value(request: Any, name: str) -> Any:
        async def compute() -> dict[str, str]:
            computed.append(name)
            return {"name": name}

        return await cache.get_or_set(f"value:{name}", compute, ttl=60)

    @app.get("/page")
    @cached(ttl=60)
    async def page(request: Any) -> Any:
        computed.append("page")
        return {"page": True}

    caplog.set_level(logging.INFO, logger="gobstopper.cache")
    with TestClient(app) as client:
        assert client.get("/value/a").json() == {"name": "a"}
        assert client.get("/page").status_code == 200
        assert cache.stats["l2_errors"] == 0

        own_redis.stop()
        for _ in range(10):
            assert client.get("/value/a").json() == {"name": "a"}  # from memory
            assert client.get("/page").json() == {"page": True}
        for name in ("b", "c", "d"):
            answer = client.get(f"/value/{name}")  # never seen: from the factory
            assert answer.status_code == 200 and answer.json() == {"name": name}
        assert computed == ["a", "page", "b", "c", "d"]
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(warnings) == 1 and cache.stats["l2_errors"] >= 1

        own_redis.start()  # same port: the cache finds it again
        deadline = time.monotonic() + 10
        while not any("reachable again" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the cache did not reconnect"
            assert client.get("/value/e").status_code == 200
            time.sleep(0.05)
        assert client.get("/value/f").json() == {"name": "f"}
    stored = Redis.from_url(own_redis.url).exists("gobstopper:cache:v:value:f")
    assert stored == 1
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


@pytest.mark.servers
@pytest.mark.parametrize("kind", ["granian-rsgi", "uvicorn"])
def test_redis_stopped_under_a_real_server(kind: str, own_redis: OwnRedis, tmp_path: Path) -> None:
    import httpx

    env = {"GOBSTOPPER_CACHE_REDIS_URL": own_redis.url, "GOBSTOPPER_CACHE_RETRY_INTERVAL": "0.2"}
    server = RealServer(ServerKey(kind, "cache_app:app", "1"), tmp_path, extra_env=env)
    server.start()
    try:
        server.wait_ready()
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            first = client.get("/value/a").json()
            page = client.get("/page").json()
            own_redis.stop()
            answers = [client.get("/value/a") for _ in range(5)] + [client.get("/page") for _ in range(5)]
            answers += [client.get(f"/value/new{i}") for i in range(5)]
            assert [a.status_code for a in answers] == [200] * 15
            assert all(a.json() == first for a in answers[:5])  # from memory
            assert all(a.json() == page for a in answers[5:10])
            assert [a.json()["name"] for a in answers[10:]] == [f"new{i}" for i in range(5)]  # from the factory
    finally:
        server.stop()
    log = server.log_text()
    assert log.count("Redis (L2) is unavailable") == 1, log
