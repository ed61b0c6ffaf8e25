"""The TechEmpower database: tables ``world`` (10,000 rows of random numbers) and ``fortune`` (the 12 standard
fortunes), created in the PostgreSQL database of a DSN.

Usage: ``python benchmarks/techempower/schema.py postgresql://user@host:5432/dbname`` (idempotent: existing
tables are dropped and filled again). The benchmark and the verifier test call :func:`create` themselves.
"""

from __future__ import annotations

import asyncio
import random
import sys

#: The fortunes of the TechEmpower benchmark (``toolset/databases/postgres/create-postgres.sql``), verbatim.
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]
WORLD_ROWS = 10_000


async def create(dsn: str) -> None:
    """Create and fill ``world`` and ``fortune`` (dropping them first)."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute("DROP TABLE IF EXISTS world; DROP TABLE IF EXISTS fortune")
            await connection.execute(
                "CREATE TABLE world (id integer NOT NULL PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0)"
            )
            await connection.execute(
                "CREATE TABLE fortune (id integer NOT NULL PRIMARY KEY, message varchar(2048) NOT NULL)"
            )
            await connection.copy_records_to_table(
                "world",
                records=[(n, random.randint(1, 10_000)) for n in range(1, WORLD_ROWS + 1)],
                columns=["id", "randomnumber"],
            )
            await connection.copy_records_to_table(
                "fortune", records=list(enumerate(FORTUNES, start=1)), columns=["id", "message"]
            )
    finally:
        await connection.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(create(sys.argv[1]))
