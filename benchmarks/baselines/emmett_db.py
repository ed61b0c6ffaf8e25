"""Emmett doing the TechEmpower database tests of ``techempower/app.py``: the RSGI framework peer.

The same work as the Gobstopper app: an asyncpg pool of ``TECHEMPOWER_POOL_SIZE`` (16) connections per worker,
the same statements, the same clamping of ``queries``. Written the way Emmett's documentation and its TechEmpower
entry write routes (``@service.json``, a route returning a dict rendered by the template of its name, here
``emmett_templates/fortunes.html`` in Emmett's own template language, autoescaped), with an Emmett extension that
opens the pool when the worker's loop starts (``Signals.after_loop``). Emmett's TechEmpower entry reads the
database through its synchronous ORM; asyncpg here keeps the database side identical, so the ratio compares the
frameworks.

Emmett is not a dependency of the project: ``benchmarks/run.py --techempower --peers emmett`` (or ``--emmett``)
installs it, and asyncpg at the project's version, into ``benchmarks/.emmett-venv`` and serves this app from there
with the same granian command line as the others.
"""

from __future__ import annotations

import os
import tempfile
from operator import itemgetter
from random import randint, sample
from typing import Any

import asyncpg
from emmett import App, request
from emmett.extensions import Extension, Signals, listen_signal
from emmett.tools import service

HERE = os.path.dirname(os.path.abspath(__file__))
READ_NUMBER = "SELECT randomnumber FROM world WHERE id = $1"
READ_FORTUNES = "SELECT id, message FROM fortune"
WRITE_ROWS = (
    "UPDATE world SET randomnumber = v.randomnumber"
    " FROM (SELECT unnest($1::integer[]) AS id, unnest($2::integer[]) AS randomnumber) AS v"
    " WHERE world.id = v.id"
)
ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")

app = App(
    __name__,
    root_path=os.environ.get("BENCH_EMMETT_ROOT") or tempfile.mkdtemp(prefix="emmett-bench-"),
    template_folder=os.path.join(HERE, "emmett_templates"),
)
app.config.handle_static = False
pool: Any = None


class Postgres(Extension):
    """Opens the asyncpg pool on the worker's loop."""

    @listen_signal(Signals.after_loop)
    def open_pool(self, loop: Any) -> None:
        global pool
        size = int(os.environ.get("TECHEMPOWER_POOL_SIZE", "16"))
        pool = loop.run_until_complete(asyncpg.create_pool(os.environ["TECHEMPOWER_DSN"], min_size=size, max_size=size))


app.use_extension(Postgres)


def query_count(name: str) -> int:
    try:
        count = int(request.query_params[name] or 1)
    except (ValueError, TypeError):
        return 1
    return min(max(count, 1), 500)


@app.route("/db")
@service.json
async def single_query() -> Any:
    world_id = randint(1, 10_000)
    async with pool.acquire() as connection:
        number = await connection.fetchval(READ_NUMBER, world_id)
    return {"id": world_id, "randomNumber": number}


@app.route("/queries")
@service.json
async def multiple_queries() -> Any:
    ids = [randint(1, 10_000) for _ in range(query_count("queries"))]
    async with pool.acquire() as connection:
        statement = await connection.prepare(READ_NUMBER)
        return [{"id": i, "randomNumber": await statement.fetchval(i)} for i in ids]


@app.route("/updates")
@service.json
async def updates() -> Any:
    ids = sorted(sample(range(1, 10_001), query_count("queries")))
    numbers = [randint(1, 10_000) for _ in ids]
    async with pool.acquire() as connection:
        statement = await connection.prepare(READ_NUMBER)
        for i in ids:
            await statement.fetchval(i)
        await connection.execute(WRITE_ROWS, ids, numbers)
    return [{"id": i, "randomNumber": n} for i, n in zip(ids, numbers)]


@app.route("/fortunes")
async def fortunes() -> Any:
    async with pool.acquire() as connection:
        rows = [tuple(row) for row in await connection.fetch(READ_FORTUNES)]
    rows.append(ADDITIONAL_FORTUNE)
    rows.sort(key=itemgetter(1))
    return {"fortunes": [{"id": i, "message": m} for i, m in rows]}
