"""Raw RSGI + asyncpg: the TechEmpower database tests with no framework, the ceiling for ``techempower/app.py``.

The same work as the Gobstopper app, request for request: the same asyncpg pool size (``TECHEMPOWER_POOL_SIZE``,
16), the same statements (one query per round trip; one ``UPDATE ... FROM unnest`` per request), the same
clamping of ``queries``, JSON by a module-level msgspec encoder, and the fortunes page rendered by Jinja2 from
the same template file (so the ratio measures the framework, not the template engine). Paths are matched by
string comparison, the query string by a regular expression.

Serve with ``granian --interface rsgi raw_rsgi_db:app`` and ``TECHEMPOWER_DSN`` set.
"""

from __future__ import annotations

import asyncio
import os
import re
from operator import itemgetter
from pathlib import Path
from random import randint, sample
from typing import Any

import asyncpg
import jinja2
import msgspec

READ_NUMBER = "SELECT randomnumber FROM world WHERE id = $1"
READ_FORTUNES = "SELECT id, message FROM fortune"
WRITE_ROWS = (
    "UPDATE world SET randomnumber = v.randomnumber"
    " FROM (SELECT unnest($1::integer[]) AS id, unnest($2::integer[]) AS randomnumber) AS v"
    " WHERE world.id = v.id"
)
ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")
JSON_HEADERS = [("content-type", "application/json")]
HTML_HEADERS = [("content-type", "text/html; charset=utf-8")]
ENCODE = msgspec.json.Encoder().encode
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "techempower" / "templates"),
    autoescape=True,
)
FORTUNES = TEMPLATES.get_template("fortunes.html")
_COUNT = re.compile(r"(?:^|&)(?:queries|count)=([^&]*)")


def query_count(query_string: str) -> int:
    match = _COUNT.search(query_string)
    try:
        count = int(match.group(1)) if match else 1
    except ValueError:
        return 1
    return min(max(count, 1), 500)


class App:
    """``/db``, ``/queries``, ``/updates``, ``/fortunes``; anything else is 404."""

    pool: Any = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        size = int(os.environ.get("TECHEMPOWER_POOL_SIZE", "16"))
        self.pool = loop.run_until_complete(
            asyncpg.create_pool(os.environ["TECHEMPOWER_DSN"], min_size=size, max_size=size)
        )

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.pool.close())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        path = scope.path
        if path == "/db":
            world_id = randint(1, 10_000)
            async with self.pool.acquire() as connection:
                number = await connection.fetchval(READ_NUMBER, world_id)
            proto.response_bytes(200, JSON_HEADERS, ENCODE({"id": world_id, "randomNumber": number}))
        elif path == "/queries":
            ids = [randint(1, 10_000) for _ in range(query_count(scope.query_string))]
            async with self.pool.acquire() as connection:
                statement = await connection.prepare(READ_NUMBER)
                worlds = [{"id": i, "randomNumber": await statement.fetchval(i)} for i in ids]
            proto.response_bytes(200, JSON_HEADERS, ENCODE(worlds))
        elif path == "/updates":
            ids = sorted(sample(range(1, 10_001), query_count(scope.query_string)))
            numbers = [randint(1, 10_000) for _ in ids]
            async with self.pool.acquire() as connection:
                statement = await connection.prepare(READ_NUMBER)
                for i in ids:
                    await statement.fetchval(i)
                await connection.execute(WRITE_ROWS, ids, numbers)
            body = ENCODE([{"id": i, "randomNumber": n} for i, n in zip(ids, numbers)])
            proto.response_bytes(200, JSON_HEADERS, body)
        elif path == "/fortunes":
            async with self.pool.acquire() as connection:
                rows = [tuple(row) for row in await connection.fetch(READ_FORTUNES)]
            rows.append(ADDITIONAL_FORTUNE)
            rows.sort(key=itemgetter(1))
            html = FORTUNES.render(fortunes=[{"id": i, "message": m} for i, m in rows])
            proto.response_str(200, HTML_HEADERS, html)
        else:
            proto.response_empty(404, [])


app = App()
