"""PostgreSQL session storage through an ``asyncpg`` pool (``pip install gobstopper[postgres]``).

The table (the reference's schema; create it once with :func:`create_session_table` or
``await storage.create_table()``)::

    CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        data JSONB NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX IF NOT EXISTS idx_sessions_expires_at ON sessions (expires_at);

Every statement is parameterised; the table name is checked to be a plain (optionally schema-qualified)
identifier when the storage is created.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

import msgspec

from .base import AsyncBaseSessionStorage, valid_session_id

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?")


def _check_table(table: str) -> str:
    if _IDENT.fullmatch(table) is None:
        raise ValueError(f"invalid table name {table!r}")
    return table


def schema_sql(table: str = "sessions") -> str:
    """The ``CREATE TABLE``/``CREATE INDEX`` statements for ``table``."""
    table = _check_table(table)
    index = "idx_" + table.replace(".", "_") + "_expires_at"
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n"
        "    session_id TEXT PRIMARY KEY,\n"
        "    data JSONB NOT NULL,\n"
        "    expires_at TIMESTAMPTZ NOT NULL\n"
        ");\n"
        f"CREATE INDEX IF NOT EXISTS {index} ON {table} (expires_at);"
    )


async def create_session_table(pool: Any, table: str = "sessions") -> None:
    """Create the sessions table and its expiry index if they do not exist (safe to call at every startup).

    Args:
        pool: an ``asyncpg`` pool or connection.
        table: the table name.
    """
    await pool.execute(schema_sql(table))


class PostgresSessionStorage(AsyncBaseSessionStorage):
    """Sessions as rows ``(session_id, data JSONB, expires_at TIMESTAMPTZ)``.

    Give it a pool, or a DSN and it opens a pool on first use in the running event loop (each Granian
    worker has its own loop, so its own pool).

    Args:
        pool: an ``asyncpg.Pool``.
        dsn: a connection string, used when ``pool`` is None (``postgresql://user@host:5432/db``).
        table: the table name (see :func:`create_session_table`).
        ttl: the expiry, in seconds, of a record that has no ``expires_at``.
        create_table: create the table when the pool is opened from ``dsn``.

    Example:
        >>> storage = PostgresSessionStorage(dsn="postgresql://app@127.0.0.1/app", create_table=True)
    """

    def __init__(
        self,
        pool: Any = None,
        *,
        dsn: str | None = None,
        table: str = "sessions",
        ttl: int = 604800,
        create_table: bool = False,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        if pool is None and dsn is None:
            raise ValueError("PostgresSessionStorage needs an asyncpg pool or a dsn")
        self.pool = pool
        self.dsn = dsn
        self.table = _check_table(table)
        self.ttl = int(ttl)
        self._create = create_table
        self._sizes = (min_size, max_size)
        self._lock: asyncio.Lock | None = None
        self._owns_pool = False
        t = self.table
        self._sql_load = f"SELECT data::text FROM {t} WHERE session_id = $1 AND expires_at > now()"
        self._sql_save = (
            f"INSERT INTO {t} (session_id, data, expires_at) VALUES ($1, $2::jsonb, $3) "
            "ON CONFLICT (session_id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at"
        )
        self._sql_delete = f"DELETE FROM {t} WHERE session_id = $1"
        self._sql_cleanup = f"DELETE FROM {t} WHERE expires_at <= now()"

    async def _pool(self) -> Any:
        if self.pool is not None:
            return self.pool
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.pool is None:
                import asyncpg

                min_size, max_size = self._sizes
                pool = await asyncpg.create_pool(self.dsn, min_size=min_size, max_size=max_size)
                if self._create:
                    await create_session_table(pool, self.table)
                self.pool, self._owns_pool = pool, True
        return self.pool

    async def create_table(self) -> None:
        """Create the table and its index if missing."""
        await create_session_table(await self._pool(), self.table)

    async def close(self) -> None:
        """Close the pool if this storage opened it."""
        if self._owns_pool and self.pool is not None:
            pool, self.pool = self.pool, None
            await pool.close()

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The record, or None when missing, expired or the id is malformed."""
        if not valid_session_id(session_id):
            return None
        pool = await self._pool()
        raw = await pool.fetchval(self._sql_load, session_id)
        if raw is None:
            return None
        record = msgspec.json.decode(raw)
        return record if isinstance(record, dict) else None

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Insert or update the row (one statement)."""
        if not valid_session_id(session_id):
            raise ValueError("invalid session id")
        now = datetime.datetime.now(datetime.UTC)
        expires = now + datetime.timedelta(seconds=self.ttl)
        if data.get("expires_at") is not None:
            expires = min(expires, datetime.datetime.fromtimestamp(float(data["expires_at"]), datetime.UTC))
        pool = await self._pool()
        await pool.execute(self._sql_save, session_id, msgspec.json.encode(data).decode(), expires)

    async def delete(self, session_id: str) -> None:
        """Delete the row."""
        if valid_session_id(session_id):
            pool = await self._pool()
            await pool.execute(self._sql_delete, session_id)

    async def cleanup(self) -> None:
        """Delete expired rows (uses the index on ``expires_at``)."""
        pool = await self._pool()
        await pool.execute(self._sql_cleanup)


__all__ = ["PostgresSessionStorage", "create_session_table", "schema_sql"]
