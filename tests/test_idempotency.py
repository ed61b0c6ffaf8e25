"""Idempotency keys: replay, scoping, body mismatch, in-flight conflicts; memory and a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _services import service_url

from gobstopper import Gobstopper
from gobstopper.testing import TestClient
from gobstopper.utils.idempotency import (
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    get_idempotent,
    remember_idempotency,
    use_idempotency,
)


def make_app(store_kind: str) -> tuple[Gobstopper, list[int]]:
    app = Gobstopper(__name__)
    runs: list[int] = []
    holder: dict[str, Any] = {}

    if store_kind == "redis":
        from redis.asyncio import Redis

        url = service_url("GOBSTOPPER_TEST_REDIS_URL")

        @app.on_startup
        async def connect() -> None:
            holder["redis"] = Redis.from_url(url)
            holder["store"] = RedisIdempotencyStore(holder["redis"], prefix=f"idem:{uuid.uuid4().hex}:")

        @app.on_shutdown
        async def close() -> None:
            await holder["redis"].aclose()

        class Lazy:
            def __getattr__(self, name: str) -> Any:
                return getattr(holder["store"], name)

        store: Any = Lazy()
    else:
        store = MemoryIdempotencyStore()

    @app.post("/pay")
    @use_idempotency(ttl_seconds=60, store=store)
    async def pay(request: Any) -> Any:
        runs.append(1)
        return {"payment": len(runs)}, 201, {"X-Run": str(len(runs))}

    @app.post("/fail")
    @use_idempotency(ttl_seconds=60, store=store)
    async def fail(request: Any) -> Any:
        runs.append(1)
        raise RuntimeError("down")

    return app, runs


@pytest.fixture(params=["memory", "redis"])
def client(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, list[int]]]:
    app, runs = make_app(request.param)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, runs


def test_same_key_replays_the_first_answer(client: Any) -> None:
    c, runs = client
    first = c.post("/pay", headers={"idempotency-key": "k1"}, content=b"{}")
    again = c.post("/pay", headers={"idempotency-key": "k1"}, content=b"{}")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"payment": 1}
    assert again.headers["x-run"] == "1" and again.headers["idempotent-replayed"] == "true"
    assert len(runs) == 1
    assert c.post("/pay", headers={"idempotency-key": "k2"}, content=b"{}").json() == {"payment": 2}


def test_no_key_runs_every_time(client: Any) -> None:
    c, runs = client
    c.post("/pay")
    c.post("/pay")
    assert len(runs) == 2


def test_query_parameter_key(client: Any) -> None:
    c, runs = client
    c.post("/pay?idempotency_key=q")
    c.post("/pay?idempotency_key=q")
    assert len(runs) == 1


def test_different_body_with_same_key_is_422(client: Any) -> None:
    c, runs = client
    c.post("/pay", headers={"idempotency-key": "k"}, content=b'{"a":1}')
    r = c.post("/pay", headers={"idempotency-key": "k"}, content=b'{"a":2}')
    assert r.status_code == 422 and len(runs) == 1


def test_keys_are_scoped_to_the_caller(client: Any) -> None:
    c, runs = client
    c.post("/pay", headers={"idempotency-key": "k", "authorization": "Bearer alice"})
    r = c.post("/pay", headers={"idempotency-key": "k", "authorization": "Bearer bob"})
    assert r.json() == {"payment": 2} and len(runs) == 2


def test_failures_are_not_cached(client: Any) -> None:
    c, runs = client
    assert c.post("/fail", headers={"idempotency-key": "f"}).status_code == 500
    assert c.post("/fail", headers={"idempotency-key": "f"}).status_code == 500
    assert len(runs) == 2


def test_malformed_key_is_400(client: Any) -> None:
    c, runs = client
    assert c.post("/pay", headers={"idempotency-key": "x" * 300}).status_code == 400
    assert runs == []


def test_in_flight_duplicate_is_409() -> None:
    store = MemoryIdempotencyStore()
    app = Gobstopper(__name__)

    @app.post("/slow")
    @use_idempotency(store=store)
    async def slow(request: Any) -> Any:
        # A second request with the same key while this one runs: it must not run the handler again.
        nested = await app.handle(request)  # re-enters the same route with the same key
        return {"inner": nested.status}

    with TestClient(app) as c:
        assert c.post("/slow", headers={"idempotency-key": "s"}).json() == {"inner": 409}


def test_module_helpers_and_bounded_memory() -> None:
    remember_idempotency("manual", {"v": 1}, ttl_seconds=60)
    assert get_idempotent("manual") == {"v": 1}
    assert get_idempotent("absent") is None
    remember_idempotency("short", 1, ttl_seconds=0)
    assert get_idempotent("short") is None
    store = MemoryIdempotencyStore(max_entries=10)
    for i in range(1000):
        store.set(str(i), i, 60)
    assert len(store) == 10 and store.get("999") == 999 and store.get("0") is None
