"""The cache facade with its memory tier only: get_or_set, singleflight, stale windows, bounds, invalidation,
keys and versions, configuration from the environment, and the reference's examples."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.cache import (
    ENV_VARS,
    Cache,
    CacheConfigError,
    CacheFacade,
    MemoryCacheStore,
    SurrealCacheStore,
    Uncached,
    cache_from_env,
)
from gobstopper.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent


class Counter:
    """A factory that counts its calls and can be slowed down or made to fail."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self) -> dict[str, int]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("backend down")
        return {"n": self.calls}


async def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# -- get_or_set ---------------------------------------------------------------------------------------------


def test_get_or_set_computes_once_then_hits() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        assert await cache.get_or_set("k", factory, ttl=30) == {"n": 1}
        assert await cache.get_or_set("k", factory, ttl=30) == {"n": 1}
        assert await cache.get("k") == {"n": 1}
        assert factory.calls == 1
        assert cache.stats["loads"] == 1 and cache.stats["l1_hits"] == 2

    asyncio.run(main())


def test_factory_spellings_sync_async_positional_and_keyword() -> None:
    async def main() -> None:
        cache = Cache()
        assert await cache.get_or_set("a", lambda: 1, ttl=5) == 1
        assert await cache.get_or_set("b", factory=lambda: 2, ttl=5) == 2
        assert await cache.get_or_set("c", loader=lambda: 3, ttl=5) == 3  # the reference's name

        async def four() -> int:
            return 4

        assert await cache.get_or_set("d", four, ttl=5) == 4

    asyncio.run(main())


def test_bad_calls_are_clear_errors() -> None:
    async def main() -> None:
        cache = Cache()
        with pytest.raises(TypeError, match="factory"):
            await cache.get_or_set("k", ttl=5)
        with pytest.raises(TypeError, match="str"):
            await cache.get_or_set(42, lambda: 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="msgspec"):
            await cache.get_or_set("obj", object, ttl=5)
        with pytest.raises(ValueError, match="ttl"):
            await cache.set("k", 1, ttl=-1)
        with pytest.raises(ValueError, match="ttl"):
            await cache.set("k", 1, ttl=float("nan"))
        assert "obj" not in cache.l1

    asyncio.run(main())


def test_expired_entries_are_computed_again() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0.05)
        await asyncio.sleep(0.1)
        assert await cache.get("k") is None
        assert await cache.get_or_set("k", factory, ttl=0.05) == {"n": 2}

    asyncio.run(main())


def test_ttl_zero_computes_without_storing() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0)
        await cache.get_or_set("k", factory, ttl=0)
        assert factory.calls == 2 and len(cache.l1) == 0

    asyncio.run(main())


def test_uncached_values_are_returned_but_not_stored() -> None:
    async def main() -> None:
        cache = Cache()
        assert await cache.get_or_set("k", lambda: Uncached("partial"), ttl=30) == "partial"
        assert await cache.get("k") is None

    asyncio.run(main())


def test_disabled_cache_always_calls_the_factory() -> None:
    async def main() -> None:
        cache = Cache(enabled=False)
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=30)
        await cache.get_or_set("k", factory, ttl=30)
        await cache.set("x", 1)
        assert factory.calls == 2 and await cache.get("x", "default") == "default"

    asyncio.run(main())


# -- singleflight -------------------------------------------------------------------------------------------


def test_concurrent_misses_run_the_factory_once() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter(delay=0.05)
        results = await asyncio.gather(*(cache.get_or_set("k", factory, ttl=30) for _ in range(1000)))
        assert factory.calls == 1
        assert all(r == {"n": 1} for r in results)

    asyncio.run(main())


def test_a_failed_factory_fails_its_waiters_and_is_retried_next_time() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter(delay=0.02, fail=True)
        results = await asyncio.gather(
            *(cache.get_or_set("k", factory, ttl=30) for _ in range(50)), return_exceptions=True
        )
        assert factory.calls == 1 and all(isinstance(r, RuntimeError) for r in results)
        factory.fail = False
        assert await cache.get_or_set("k", factory, ttl=30) == {"n": 2}

    asyncio.run(main())


def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter(delay=0.1)
        first = asyncio.ensure_future(cache.get_or_set("k", factory, ttl=30))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(cache.get_or_set("k", factory, ttl=30))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == {"n": 1}
        assert factory.calls == 1 and await cache.get("k") == {"n": 1}

    asyncio.run(main())


# -- stale windows ------------------------------------------------------------------------------------------


def test_stale_while_revalidate_serves_the_old_value_during_one_refresh() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter(delay=0.1)
        assert await cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30) == {"n": 1}
        await asyncio.sleep(0.08)
        stale = await asyncio.gather(
            *(cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30) for _ in range(100))
        )
        assert all(v == {"n": 1} for v in stale)  # answered at once from the stale entry
        await eventually(lambda: factory.calls == 2 and not cache._refreshing)
        assert await cache.get_or_set("k", factory, ttl=30) == {"n": 2}
        assert factory.calls == 2 and cache.stats["stale_served"] == 100

    asyncio.run(main())


def test_stale_ttl_is_the_references_spelling() -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0.05, stale_ttl=30)
        await asyncio.sleep(0.08)
        assert await cache.get_or_set("k", factory, ttl=0.05, stale_ttl=30) == {"n": 1}
        assert await cache.get("k") is None and await cache.get("k", allow_stale=True) == {"n": 1}

    asyncio.run(main())


def test_swr_switched_off_for_the_whole_cache() -> None:
    async def main() -> None:
        cache = Cache(swr_enabled=False)
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30)
        await asyncio.sleep(0.08)
        assert await cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30) == {"n": 2}

    asyncio.run(main())


def test_stale_if_error_serves_the_old_value_when_the_factory_fails(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0.05, stale_if_error=30)
        await cache.get_or_set("plain", factory, ttl=0.05)
        await asyncio.sleep(0.08)
        factory.fail = True
        assert await cache.get_or_set("k", factory, ttl=0.05, stale_if_error=30) == {"n": 1}
        with pytest.raises(RuntimeError):
            await cache.get_or_set("plain", factory, ttl=0.05)
        assert cache.stats["stale_on_error"] == 1

    with caplog.at_level(logging.WARNING, logger="gobstopper.cache"):
        asyncio.run(main())
    assert any("stale-if-error" in r.getMessage() for r in caplog.records)


def test_a_failed_background_refresh_keeps_the_stale_value(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        cache = Cache()
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30)
        await asyncio.sleep(0.08)
        factory.fail = True
        assert await cache.get_or_set("k", factory, ttl=0.05, stale_while_revalidate=30) == {"n": 1}
        await cache.flush()  # waits for the refresh
        factory.fail = False

    with caplog.at_level(logging.WARNING, logger="gobstopper.cache"):
        asyncio.run(main())
    assert any("background refresh" in r.getMessage() for r in caplog.records)


# -- the memory tier ----------------------------------------------------------------------------------------


def test_memory_is_bounded_by_entries() -> None:
    async def main() -> None:
        cache = Cache(l1=MemoryCacheStore(max_entries=10))
        for i in range(100):
            await cache.set(f"k{i}", i, ttl=30)
        assert len(cache.l1) == 10 and await cache.get("k99") == 99 and await cache.get("k0") is None

    asyncio.run(main())


def test_memory_is_bounded_by_bytes() -> None:
    async def main() -> None:
        store = MemoryCacheStore(max_entries=1000, max_bytes=64 * 1024)
        cache = Cache(l1=store)
        for i in range(100):
            await cache.set(f"k{i}", "x" * 4096, ttl=30)
        assert store.nbytes <= 64 * 1024 and 0 < len(store) < 16
        await cache.set("huge", "x" * 100_000, ttl=30)  # larger than the whole store: not kept
        assert "huge" not in store and store.nbytes <= 64 * 1024

    asyncio.run(main())


def test_a_recently_read_entry_gets_a_second_chance() -> None:
    async def main() -> None:
        cache = Cache(l1=MemoryCacheStore(max_entries=3))
        for key in ("a", "b", "c"):
            await cache.set(key, key, ttl=30)
        assert await cache.get_or_set("a", lambda: "recomputed", ttl=30) == "a"  # read: visited
        await cache.set("d", "d", ttl=30)
        assert "a" in cache.l1 and "b" not in cache.l1

    asyncio.run(main())


def test_memory_off_stores_nothing() -> None:
    async def main() -> None:
        cache = Cache(l1=MemoryCacheStore(max_entries=0))
        factory = Counter()
        await cache.get_or_set("k", factory, ttl=30)
        await cache.get_or_set("k", factory, ttl=30)
        assert factory.calls == 2

    asyncio.run(main())


def test_l1_max_ttl_caps_how_long_memory_keeps_an_entry() -> None:
    async def main() -> None:
        cache = Cache(l1=MemoryCacheStore(max_ttl=0.05))
        await cache.set("k", 1, ttl=30)
        await asyncio.sleep(0.08)
        assert await cache.get("k") is None

    asyncio.run(main())


# -- invalidation -------------------------------------------------------------------------------------------


def test_delete_prefix_tags_clear_and_flush() -> None:
    async def main() -> None:
        cache = Cache()
        await cache.set("user:1:profile", 1, tags=["user:1"])
        await cache.set("user:1:posts", 2, tags=["user:1", "posts"])
        await cache.set("user:2:profile", 3, tags=["user:2"])
        await cache.set("site:menu", 4)
        assert await cache.delete("site:menu") is True and await cache.delete("site:menu") is False
        assert await cache.invalidate_tags("user:1") == 2
        assert await cache.get("user:1:posts") is None and await cache.get("user:2:profile") == 3
        await cache.set("user:3:profile", 5)
        assert await cache.invalidate_prefix("user:") == 2
        await cache.set("a", 1)
        await cache.clear()
        assert len(cache.l1) == 0
        await cache.set("b", 1)
        await cache.flush()
        assert len(cache.l1) == 0

    asyncio.run(main())


def test_build_key_and_bump_version() -> None:
    async def main() -> None:
        cache = Cache()
        one = cache.build_key("users", params={"id": 1, "fields": ["a", "b"]}, tenant="acme")
        same = cache.build_key("users", tenant="acme", params={"fields": ["a", "b"], "id": 1})
        other = cache.build_key("users", params={"id": 2}, tenant="acme")
        assert one == same != other
        assert re.fullmatch(r"users:v1:[0-9a-f]{16}", one)
        assert await cache.bump_version("users") == "v2"
        assert cache.build_key("users", params={"id": 1, "fields": ["a", "b"]}, tenant="acme") == one.replace(
            ":v1:", ":v2:"
        )

    asyncio.run(main())


def test_eda_events_invalidate_as_in_the_reference() -> None:
    async def main() -> None:
        cache = Cache()
        await cache.set("orders:1", 1)
        await cache.set("orders:2", 2)
        assert await cache.handle_eda_event("entity.updated", {"namespace": "orders"}) == 2
        assert await cache.handle_eda_event("schema.bump", {"namespace": "orders"}) == "v2"
        assert await cache.handle_eda_event("something.else", {}) is None

    asyncio.run(main())


def test_the_references_facade_constructor() -> None:
    async def main() -> None:
        off = CacheFacade()  # the reference's default: disabled
        assert await off.get_or_set("k", lambda: 1, ttl=5) == 1 and await off.get("k") is None
        on = CacheFacade(l1=MemoryCacheStore(), cache_enabled=True, cache_swr_enabled=True)
        await on.set("k", 1, ttl=5)
        assert await on.get("k") == 1 and on.cache_enabled and on.swr_enabled

    asyncio.run(main())


# -- configuration ------------------------------------------------------------------------------------------


def test_cache_from_env_defaults() -> None:
    cache = cache_from_env(environ={})
    assert cache.enabled and cache.swr_enabled and cache.l2 is None
    assert cache.default_ttl == 300 and cache.l1.max_entries == 10_000 and cache.l1.max_bytes == 64 * 1024 * 1024
    assert cache.serializer == "msgpack" and cache.lock_ttl == 10 and cache.singleflight_timeout == 10


def test_cache_from_env_reads_every_variable() -> None:
    env = {
        "GOBSTOPPER_CACHE_ENABLED": "yes",
        "GOBSTOPPER_CACHE_DEFAULT_TTL": "12.5",
        "GOBSTOPPER_CACHE_SWR_ENABLED": "off",
        "GOBSTOPPER_CACHE_STALE_WHILE_REVALIDATE": "7",
        "GOBSTOPPER_CACHE_STALE_IF_ERROR": "8",
        "GOBSTOPPER_CACHE_L1_MAX_ENTRIES": "5",
        "GOBSTOPPER_CACHE_L1_MAX_BYTES": "4096",
        "GOBSTOPPER_CACHE_L1_MAX_TTL": "2",
        "GOBSTOPPER_CACHE_L2_ENABLED": "1",
        "GOBSTOPPER_CACHE_L2_BACKEND": "redis",
        "GOBSTOPPER_CACHE_REDIS_URL": "redis://127.0.0.1:1/0",
        "GOBSTOPPER_CACHE_KEY_PREFIX": "app1:",
        "GOBSTOPPER_CACHE_SERIALIZER": "json",
        "GOBSTOPPER_CACHE_REDIS_TIMEOUT": "0.25",
        "GOBSTOPPER_CACHE_RETRY_INTERVAL": "3",
        "GOBSTOPPER_CACHE_LOCK_TTL": "4",
        "GOBSTOPPER_CACHE_SINGLEFLIGHT_TIMEOUT": "6",
    }
    assert set(env) == set(ENV_VARS)
    cache = cache_from_env(environ=env)
    assert cache.enabled and not cache.swr_enabled and cache.default_ttl == 12.5
    assert (cache.stale_while_revalidate, cache.stale_if_error) == (7, 8)
    assert (cache.l1.max_entries, cache.l1.max_bytes, cache.l1.max_ttl) == (5, 4096, 2)
    assert cache.l2 is not None and cache.l2.prefix == "app1:" and cache.l2.timeout == 0.25
    assert cache.l2.url == "redis://127.0.0.1:1/0" and cache.serializer == "json"
    assert (cache.retry_interval, cache.lock_ttl, cache.singleflight_timeout) == (3, 4, 6)
    assert cache_from_env(environ={"GOBSTOPPER_CACHE_REDIS_URL": "redis://x"}).l2 is not None  # a URL turns L2 on
    off = {"GOBSTOPPER_CACHE_REDIS_URL": "redis://x", "GOBSTOPPER_CACHE_L2_ENABLED": "0"}
    assert cache_from_env(environ=off).l2 is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GOBSTOPPER_CACHE_DEFAULT_TTL": "soon"}, "GOBSTOPPER_CACHE_DEFAULT_TTL"),
        ({"GOBSTOPPER_CACHE_L1_MAX_BYTES": "-1"}, "GOBSTOPPER_CACHE_L1_MAX_BYTES"),
        ({"GOBSTOPPER_CACHE_L1_MAX_ENTRIES": "1.5"}, "GOBSTOPPER_CACHE_L1_MAX_ENTRIES"),
        ({"GOBSTOPPER_CACHE_ENABLED": "maybe"}, "GOBSTOPPER_CACHE_ENABLED"),
        ({"GOBSTOPPER_CACHE_SERIALIZER": "pickle"}, "GOBSTOPPER_CACHE_SERIALIZER"),
        ({"GOBSTOPPER_CACHE_L2_BACKEND": "memcached"}, "GOBSTOPPER_CACHE_L2_BACKEND"),
        ({"GOBSTOPPER_CACHE_L2_ENABLED": "1"}, "GOBSTOPPER_CACHE_REDIS_URL"),
    ],
)
def test_cache_from_env_refuses_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(CacheConfigError, match=message):
        cache_from_env(environ=env)


@pytest.mark.parametrize(
    "env",
    [
        {"GOBSTOPPER_CACHE_L2_ENABLED": "1", "GOBSTOPPER_CACHE_L2_BACKEND": "surreal"},
        {"GOBSTOPPER_CACHE_SURREAL_URL": "ws://db:8000"},
        {"GOBSTOPPER_CACHE_SURREAL_TOKEN": "t"},
        {"GOBSTOPPER_CACHE_SURREAL_USERNAME": "u", "GOBSTOPPER_CACHE_SURREAL_PASSWORD": "p"},
    ],
)
def test_the_references_surreal_settings_are_a_clear_error(env: dict[str, str]) -> None:
    with pytest.raises(CacheConfigError, match="no SurrealDB tier.*GOBSTOPPER_CACHE_REDIS_URL"):
        cache_from_env(environ=env)
    with pytest.raises(CacheConfigError, match="Redis"):
        SurrealCacheStore(url="surrealkv://.gobstopper/cache")


def test_every_variable_is_documented() -> None:
    text = (ROOT / "docs" / "cache.md").read_text()
    documented = set(re.findall(r"^\| `(GOBSTOPPER_CACHE_[A-Z0-9_]+)` \|", text, re.M))
    assert set(ENV_VARS) <= documented
    for name in ENV_VARS:
        row = re.search(rf"^\| `{name}` \| ([^|]*) \|", text, re.M)
        assert row is not None
        default = ENV_VARS[name] or "unset"
        assert default in row.group(1), f"{name}: docs say {row.group(1)!r}, code says {default!r}"


# -- the app ------------------------------------------------------------------------------------------------


def test_the_readme_example_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(ENV_VARS):
        monkeypatch.delenv(name, raising=False)
    calls = []

    # --- as in the reference's README ("Caching (L1 + optional L2 Surreal)") ---
    from gobstopper import Gobstopper

    app = Gobstopper(__name__)

    # Reads GOBSTOPPER_CACHE_* env vars and wires app.cache
    cache = app.init_cache_from_env()

    async def compute_expensive():
        calls.append(1)
        return {"value": 42}

    @app.get("/slow")
    async def slow_endpoint(request):
        data = await cache.get_or_set("slow:data", ttl=30, factory=compute_expensive)
        return {"data": data}

    # --- end of the example ---

    assert app.cache is cache and app.extensions["cache"].cache is cache
    with TestClient(app) as client:
        assert [client.get("/slow").json() for _ in range(3)] == [{"data": {"value": 42}}] * 3
    assert len(calls) == 1


def test_the_references_lifecycle_examples() -> None:
    app = Gobstopper(__name__)
    state: dict[str, Any] = {}

    async def init_redis_cache() -> Cache:  # the guide's helper; here a memory cache
        return Cache()

    # From the API reference (on_startup, "Warm up caches") and on_shutdown ("Flush caches and save state").
    @app.on_startup
    async def warm_cache():
        app.cache = await init_redis_cache()
        await app.cache.set("menu", ["home", "about"])

    @app.on_shutdown
    async def save_state():
        await app.cache.flush()
        state["flushed"] = len(app.cache.l1) == 0

    @app.get("/menu")
    async def menu(request):
        return {"menu": await request.app.cache.get("menu")}

    with TestClient(app) as client:
        assert client.get("/menu").json() == {"menu": ["home", "about"]}
    assert state == {"flushed": True}


def test_app_cache_is_none_until_initialised_and_init_twice_replaces() -> None:
    app = Gobstopper(__name__)
    assert app.cache is None
    first = app.init_cache_from_env(environ={})
    second = app.init_cache_from_env(environ={}, default_ttl=5)
    assert app.cache is second is not first and app.extensions["cache"].cache is second
    assert second.default_ttl == 5


def test_struct_values_stay_structs_in_memory() -> None:
    class Item(msgspec.Struct):
        id: int
        name: str

    async def main() -> None:
        cache = Cache()
        value = await cache.get_or_set("item", lambda: Item(1, "a"), ttl=5, type=Item)
        assert value == Item(1, "a") and await cache.get("item") == Item(1, "a")

    asyncio.run(main())
