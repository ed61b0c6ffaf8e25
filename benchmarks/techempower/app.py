"""The TechEmpower Framework Benchmarks app, written as a user of Gobstopper's public API would write it.

Tests (https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview):
``/json``, ``/plaintext``, ``/db``, ``/queries?queries=N``, ``/updates?queries=N``, ``/fortunes`` and
``/cached-queries?count=N``, on PostgreSQL through an asyncpg pool (one query per network round trip; the
updates of one request go in one statement, which the rules allow), fortunes through ``render_template``
(Jinja2, autoescaped) and cached queries through ``gobstopper.cache``.

Configuration: ``TECHEMPOWER_DSN`` (the database, filled by ``schema.py``) and ``TECHEMPOWER_POOL_SIZE`` (the
pool's connections per worker, 16 by default). Serve with
``granian --interface rsgi --working-dir benchmarks/techempower app:app`` (or ``uvicorn app:app``).
"""

from __future__ import annotations

import os
from operator import itemgetter
from random import randint, sample
from typing import Any

import asyncpg

from gobstopper import Gobstopper
from gobstopper.cache import Cache
from gobstopper.http.response import Response

app = Gobstopper(__name__)
app.init_templates("templates")
cache = Cache(default_ttl=3600)  # in-memory: the "cached queries" test reads from a process-local cache

READ_NUMBER = "SELECT randomnumber FROM world WHERE id = $1"
READ_FORTUNES = "SELECT id, message FROM fortune"
WRITE_ROWS = (
    "UPDATE world SET randomnumber = v.randomnumber"
    " FROM (SELECT unnest($1::integer[]) AS id, unnest($2::integer[]) AS randomnumber) AS v"
    " WHERE world.id = v.id"
)
ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")
pool: Any = None


@app.on_startup
async def open_pool() -> None:
    global pool
    size = int(os.environ.get("TECHEMPOWER_POOL_SIZE", "16"))
    pool = await asyncpg.create_pool(os.environ["TECHEMPOWER_DSN"], min_size=size, max_size=size)


@app.on_shutdown
async def close_pool() -> None:
    if pool is not None:
        await pool.close()


def query_count(request: Any, name: str) -> int:
    """The TechEmpower rule: an integer clamped to 1..500; missing or not a number is 1."""
    try:
        count = int(request.get_str(name) or 1)
    except ValueError:
        return 1
    return min(max(count, 1), 500)


@app.get("/json")
async def json(request: Any) -> Any:
    return {"message": "Hello, World!"}


@app.get("/plaintext")
async def plaintext(request: Any) -> Any:
    return Response(b"Hello, World!", content_type="text/plain")


@app.get("/db")
async def single_query(request: Any) -> Any:
    async with pool.acquire() as connection:
        number = await connection.fetchval(READ_NUMBER, world_id := randint(1, 10_000))
    return {"id": world_id, "randomNumber": number}


@app.get("/queries")
async def multiple_queries(request: Any) -> Any:
    ids = [randint(1, 10_000) for _ in range(query_count(request, "queries"))]
    async with pool.acquire() as connection:
        statement = await connection.prepare(READ_NUMBER)
        worlds = [{"id": i, "randomNumber": await statement.fetchval(i)} for i in ids]
    return worlds


@app.get("/updates")
async def updates(request: Any) -> Any:
    # Distinct ids in ascending order: two requests updating the same rows lock them in the same order.
    ids = sorted(sample(range(1, 10_001), query_count(request, "queries")))
    numbers = [randint(1, 10_000) for _ in ids]
    async with pool.acquire() as connection:
        statement = await connection.prepare(READ_NUMBER)
        for i in ids:
            await statement.fetchval(i)  # each row is read, one query per round trip, before it is updated
        await connection.execute(WRITE_ROWS, ids, numbers)
    return [{"id": i, "randomNumber": n} for i, n in zip(ids, numbers)]


@app.get("/fortunes")
async def fortunes(request: Any) -> Any:
    async with pool.acquire() as connection:
        rows = [tuple(row) for row in await connection.fetch(READ_FORTUNES)]
    rows.append(ADDITIONAL_FORTUNE)
    rows.sort(key=itemgetter(1))
    return await app.render_template("fortunes.html", fortunes=[{"id": i, "message": m} for i, m in rows])


async def load_world(world_id: int) -> dict[str, int]:
    async with pool.acquire() as connection:
        number = await connection.fetchval(READ_NUMBER, world_id)
    return {"id": world_id, "randomNumber": number}


@app.get("/cached-queries")
async def cached_queries(request: Any) -> Any:
    worlds = []
    for _ in range(query_count(request, "count")):
        world_id = randint(1, 10_000)
        worlds.append(await cache.get_or_set(f"world:{world_id}", lambda i=world_id: load_world(i)))
    return worlds
