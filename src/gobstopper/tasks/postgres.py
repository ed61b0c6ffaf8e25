"""PostgreSQL task storage through asyncpg: any number of worker processes on any number of hosts.

- Claiming is one statement: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks the runnable rows (priority, then FIFO),
  the ``UPDATE`` around it marks them started with a lease, so two workers never get the same row and never wait
  for each other.
- Time is the database server's (``now()``), so hosts with skewed clocks agree on leases and delays.
- ``enqueue`` sends ``NOTIFY gobstopper_tasks`` with the category in the same statement; workers ``LISTEN`` on a
  connection of their own and otherwise poll. A notification is delivered at commit, so enqueueing inside the
  caller's transaction (``connection=``) wakes workers only if that transaction commits.
- Tables are created on first use (``CREATE ... IF NOT EXISTS`` under an advisory lock).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ._backend import COLUMNS, READY, TERMINAL_VALUES, UNFINISHED, DeadLetter, EventRecord, row_to_task, task_to_row
from .models import TaskInfo, TaskStatus

__all__ = ["PostgresTaskStorage"]

logger = logging.getLogger("gobstopper.tasks")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
_NOW = "(now() AT TIME ZONE 'utc')"
_SELECT = ", ".join(COLUMNS)
_READY = ", ".join(f"'{s}'" for s in READY)
_UNFINISHED = ", ".join(f"'{s}'" for s in UNFINISHED)
_TERMINAL = ", ".join(f"'{s}'" for s in TERMINAL_VALUES)


class PostgresTaskStorage:
    """Tasks (and events) in PostgreSQL; implements :class:`~gobstopper.tasks._backend.TaskBackend`.

    Args:
        dsn: a ``postgresql://`` URL (ignored when ``pool`` is given).
        pool: an existing ``asyncpg`` pool to share (the app's); it is not closed by :meth:`close`.
        prefix: table-name prefix (``gobstopper`` → ``gobstopper_tasks``, ``gobstopper_events``...); letters,
            digits and ``_``.
        min_size, max_size: size of the pool this storage creates.

    Raises:
        ValueError: ``prefix`` is not a plain identifier, or neither ``dsn`` nor ``pool`` is given.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: Any = None,
        prefix: str = "gobstopper",
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        if not _NAME.match(prefix):
            raise ValueError(f"prefix must be a plain SQL identifier, not {prefix!r}")
        if dsn is None and pool is None:
            raise ValueError("PostgresTaskStorage needs dsn= or pool=")
        self.dsn = dsn
        self.prefix = prefix
        self.channel = f"{prefix}_tasks"
        self._pool = pool
        self._own_pool = pool is None
        self._min_size, self._max_size = min_size, max_size
        self._listen_conn: Any = None
        self._listeners: list[Callable[[str], None]] = []
        self._ready = False
        t = self.tasks_table = f"{prefix}_tasks"
        e = self.events_table = f"{prefix}_events"
        d = self.dead_table = f"{prefix}_dead_letters"
        self._schema = f"""
CREATE TABLE IF NOT EXISTS {t} (
    id text PRIMARY KEY,
    seq bigserial,
    name text NOT NULL,
    category text NOT NULL,
    priority smallint NOT NULL,
    status text NOT NULL,
    created_at timestamp NOT NULL,
    started_at timestamp,
    completed_at timestamp,
    elapsed_seconds double precision NOT NULL DEFAULT 0,
    result text,
    error text,
    retry_count integer NOT NULL DEFAULT 0,
    max_retries integer NOT NULL DEFAULT 0,
    args text NOT NULL DEFAULT '[]',
    kwargs text NOT NULL DEFAULT '{{}}',
    progress double precision NOT NULL DEFAULT 0,
    progress_message text NOT NULL DEFAULT '',
    run_at timestamp,
    timeout double precision,
    dedup_key text,
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_expires_at timestamp,
    cancel_requested boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS {t}_ready ON {t} (category, priority DESC, seq) WHERE status IN ({_READY});
CREATE INDEX IF NOT EXISTS {t}_leases ON {t} (lease_expires_at) WHERE status = 'started';
CREATE INDEX IF NOT EXISTS {t}_owner ON {t} (lease_owner) WHERE status = 'started';
CREATE INDEX IF NOT EXISTS {t}_created ON {t} (created_at);
CREATE UNIQUE INDEX IF NOT EXISTS {t}_dedup ON {t} (dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ({_UNFINISHED});
CREATE TABLE IF NOT EXISTS {e} (
    id text PRIMARY KEY,
    seq bigserial,
    type text NOT NULL,
    source text NOT NULL,
    subject text,
    time timestamp NOT NULL,
    data text NOT NULL,
    extensions text NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS {e}_type_time ON {e} (type, time);
CREATE TABLE IF NOT EXISTS {d} (
    event_id text NOT NULL,
    handler text NOT NULL,
    event_type text NOT NULL,
    task_id text NOT NULL,
    error text,
    attempts integer NOT NULL,
    failed_at timestamp NOT NULL,
    PRIMARY KEY (event_id, handler)
);
"""
        values = [f"${i}" for i in range(1, len(COLUMNS) + 1)]
        run_at = COLUMNS.index("run_at")
        values[run_at] = f"coalesce({values[run_at]}, {_NOW} + make_interval(secs => ${len(COLUMNS) + 1}::float8))"
        self._sql_insert = f"""
WITH ins AS (
    INSERT INTO {t} ({_SELECT}) VALUES ({", ".join(values)})
    ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ({_UNFINISHED}) DO NOTHING
    RETURNING id, category)
SELECT id, pg_notify('{self.channel}', category) FROM ins"""
        self._sql_claim = f"""
UPDATE {t} AS t SET status = 'started', attempts = t.attempts + 1, retry_count = t.attempts, started_at = {_NOW},
    lease_owner = $2, lease_expires_at = {_NOW} + make_interval(secs => $3::float8)
FROM (SELECT id FROM {t}
      WHERE category = $1 AND status IN ({_READY}) AND (run_at IS NULL OR run_at <= {_NOW})
      ORDER BY priority DESC, seq LIMIT $4 FOR UPDATE SKIP LOCKED) AS picked
WHERE t.id = picked.id
RETURNING {", ".join("t." + c for c in COLUMNS)}, t.seq"""
        self._sql_finish = f"""
UPDATE {t} SET status = $3, result = $4, error = $5, elapsed_seconds = $6,
    completed_at = CASE WHEN $3 IN ({_TERMINAL}) THEN {_NOW} ELSE completed_at END,
    run_at = CASE WHEN $7::float8 IS NULL THEN run_at ELSE {_NOW} + make_interval(secs => $7::float8) END,
    progress = CASE WHEN $3 = 'success' THEN 100 ELSE progress END,
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND lease_owner = $2 AND status = 'started'"""

    def __repr__(self) -> str:
        return f"<PostgresTaskStorage {self.tasks_table}>"

    # -- connection --------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._ready:
            if self._listeners and self._listen_conn is None:
                await self._listen()
            return
        if self._pool is None:
            import asyncpg

            self._pool = await asyncpg.create_pool(self.dsn, min_size=self._min_size, max_size=self._max_size)
            self._own_pool = True
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.tasks_table)
                await conn.execute(self._schema)
        self._ready = True
        if self._listeners:
            await self._listen()

    async def _pool_ready(self) -> Any:
        if not self._ready:
            await self.open()
        return self._pool

    async def close(self) -> None:
        if self._listen_conn is not None:
            conn, self._listen_conn = self._listen_conn, None
            try:
                await conn.remove_listener(self.channel, self._notified)
                if self.dsn is None:
                    await self._pool.release(conn)
                else:
                    await conn.close(timeout=5)
            except Exception:  # a connection that is already gone is closed enough
                conn.terminate()
        if self._pool is not None and self._own_pool:
            pool, self._pool = self._pool, None
            await pool.close()
        self._ready = False

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    async def _listen(self) -> None:
        if self._listen_conn is not None:
            return
        import asyncpg

        try:
            if self.dsn is not None:
                conn = await asyncpg.connect(self.dsn)
            else:  # a shared pool: keep one of its connections for LISTEN until close()
                conn = await self._pool.acquire()
        except Exception:
            logger.warning("LISTEN %s unavailable; workers fall back to polling", self.channel, exc_info=True)
            return
        await conn.add_listener(self.channel, self._notified)
        self._listen_conn = conn

    def _notified(self, _conn: Any, _pid: int, _channel: str, category: str) -> None:
        for callback in list(self._listeners):
            callback(category)

    def _wake(self, category: str) -> None:
        self._notified(None, 0, self.channel, category)

    # -- TaskBackend --------------------------------------------------------------------------------------

    async def enqueue(self, task: TaskInfo, *, delay: float | None = None, connection: Any = None) -> str:
        if connection is None:
            pool = await self._pool_ready()
            async with pool.acquire() as conn:
                return await self._enqueue(conn, task, delay)
        if not self._ready:
            await self.open()
        return await self._enqueue(connection, task, delay)

    async def _enqueue(self, conn: Any, task: TaskInfo, delay: float | None) -> str:
        row = task_to_row(task)
        while True:
            inserted = await conn.fetchval(self._sql_insert, *row, delay or 0.0)
            if inserted is not None:
                return str(inserted)
            existing = await conn.fetchval(
                f"SELECT id FROM {self.tasks_table} WHERE dedup_key = $1 AND status IN ({_UNFINISHED})",
                task.dedup_key,
            )
            if existing is not None:
                return str(existing)
            # The holder of the key finished between the two statements: try the insert again.

    async def claim(self, category: str, owner: str, lease_seconds: float, limit: int) -> list[TaskInfo]:
        pool = await self._pool_ready()
        rows = await pool.fetch(self._sql_claim, category, owner, float(lease_seconds), int(limit))
        rows = sorted(rows, key=lambda row: (-row["priority"], row["seq"]))
        return [row_to_task(tuple(row)[:-1]) for row in rows]

    async def renew(self, owner: str, lease_seconds: float) -> tuple[set[str], set[str]]:
        pool = await self._pool_ready()
        rows = await pool.fetch(
            f"UPDATE {self.tasks_table} SET lease_expires_at = {_NOW} + make_interval(secs => $2::float8) "
            "WHERE lease_owner = $1 AND status = 'started' RETURNING id, cancel_requested",
            owner,
            float(lease_seconds),
        )
        return {r["id"] for r in rows}, {r["id"] for r in rows if r["cancel_requested"]}

    async def reap(self) -> list[str]:
        pool = await self._pool_ready()
        rows = await pool.fetch(
            f"UPDATE {self.tasks_table} SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL "
            f"WHERE status = 'started' AND lease_expires_at < {_NOW} RETURNING category"
        )
        return [r["category"] for r in rows]

    async def finish(
        self,
        task_id: str,
        owner: str,
        status: TaskStatus,
        *,
        result: str | None = None,
        error: str | None = None,
        elapsed: float = 0.0,
        retry_delay: float | None = None,
    ) -> bool:
        pool = await self._pool_ready()
        done = await pool.execute(self._sql_finish, task_id, owner, status.value, result, error, elapsed, retry_delay)
        return bool(done.endswith(" 1"))

    async def release(self, task_id: str, owner: str) -> bool:
        pool = await self._pool_ready()
        category = await pool.fetchval(
            f"WITH r AS (UPDATE {self.tasks_table} SET status = 'pending', attempts = greatest(attempts - 1, 0), "
            "lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'started' "
            f"RETURNING category) SELECT category, pg_notify('{self.channel}', category) FROM r",
            task_id,
            owner,
        )
        return category is not None

    async def cancel(self, task_id: str) -> bool:
        pool = await self._pool_ready()
        done = await pool.execute(
            f"UPDATE {self.tasks_table} SET status = CASE WHEN status = 'started' THEN status ELSE 'cancelled' END, "
            f"cancel_requested = (status = 'started'), "
            f"completed_at = CASE WHEN status = 'started' THEN completed_at ELSE {_NOW} END "
            f"WHERE id = $1 AND status IN ({_UNFINISHED})",
            task_id,
        )
        return bool(done.endswith(" 1"))

    async def requeue(self, task_id: str) -> bool:
        import asyncpg

        pool = await self._pool_ready()
        try:
            category = await pool.fetchval(
                f"""WITH r AS (UPDATE {self.tasks_table} SET status = 'pending', attempts = 0, error = NULL,
                    started_at = NULL, completed_at = NULL, run_at = NULL, elapsed_seconds = 0, progress = 0,
                    progress_message = '', cancel_requested = false
                WHERE id = $1 AND status = 'failed' RETURNING category)
                SELECT category, pg_notify('{self.channel}', category) FROM r""",
                task_id,
            )
        except asyncpg.UniqueViolationError:  # another unfinished task holds its dedup_key
            return False
        return category is not None

    async def set_progress(self, task_id: str, owner: str, progress: float, message: str) -> None:
        pool = await self._pool_ready()
        await pool.execute(
            f"UPDATE {self.tasks_table} SET progress = $3, progress_message = $4 "
            "WHERE id = $1 AND lease_owner = $2 AND status = 'started'",
            task_id,
            owner,
            progress,
            message,
        )

    async def fetch(self, task_id: str) -> TaskInfo | None:
        pool = await self._pool_ready()
        row = await pool.fetchrow(f"SELECT {_SELECT} FROM {self.tasks_table} WHERE id = $1", task_id)
        return None if row is None else row_to_task(tuple(row))

    async def query(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        pool = await self._pool_ready()
        rows = await pool.fetch(
            f"SELECT {_SELECT} FROM {self.tasks_table} WHERE ($1::text IS NULL OR category = $1) "
            "AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, seq DESC LIMIT $3 OFFSET $4",
            category,
            None if status is None else TaskStatus(status).value,
            int(limit),
            int(offset),
        )
        return [row_to_task(tuple(row)) for row in rows]

    async def counts(self) -> list[tuple[str, str, int]]:
        pool = await self._pool_ready()
        rows = await pool.fetch(f"SELECT status, category, count(*) FROM {self.tasks_table} GROUP BY 1, 2")
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def purge(self, before: datetime) -> int:
        pool = await self._pool_ready()
        done = await pool.execute(
            f"DELETE FROM {self.tasks_table} WHERE status IN ({_TERMINAL}) AND coalesce(completed_at, created_at) < $1",
            before,
        )
        return int(done.split()[-1])

    # -- events ------------------------------------------------------------------------------------------

    async def append_event(self, event: EventRecord, deliveries: Sequence[TaskInfo], *, connection: Any = None) -> None:
        if connection is not None:
            if not self._ready:
                await self.open()
            await self._append(connection, event, deliveries)
            return
        pool = await self._pool_ready()
        async with pool.acquire() as conn:
            async with conn.transaction():
                await self._append(conn, event, deliveries)

    async def _append(self, conn: Any, event: EventRecord, deliveries: Sequence[TaskInfo]) -> None:
        await conn.execute(
            f"INSERT INTO {self.events_table} (id, type, source, subject, time, data, extensions) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            event.id,
            event.type,
            event.source,
            event.subject,
            event.time,
            event.data,
            event.extensions,
        )
        for task in deliveries:
            await self._enqueue(conn, task, None)

    async def get_event(self, event_id: str) -> EventRecord | None:
        pool = await self._pool_ready()
        row = await pool.fetchrow(
            f"SELECT id, type, source, subject, time, data, extensions FROM {self.events_table} WHERE id = $1",
            event_id,
        )
        return None if row is None else EventRecord(**dict(row))

    async def list_events(
        self, type: str | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> list[EventRecord]:
        pool = await self._pool_ready()
        rows = await pool.fetch(
            f"SELECT id, type, source, subject, time, data, extensions FROM {self.events_table} "
            "WHERE ($1::text IS NULL OR type = $1) AND ($2::timestamp IS NULL OR time >= $2) "
            "ORDER BY time, seq LIMIT $3 OFFSET $4",
            type,
            since,
            int(limit),
            int(offset),
        )
        return [EventRecord(**dict(r)) for r in rows]

    async def put_dead_letter(self, letter: DeadLetter) -> None:
        pool = await self._pool_ready()
        await pool.execute(
            f"INSERT INTO {self.dead_table} (event_id, handler, event_type, task_id, error, attempts, failed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, handler) DO UPDATE SET "
            "event_type = EXCLUDED.event_type, task_id = EXCLUDED.task_id, error = EXCLUDED.error, "
            "attempts = EXCLUDED.attempts, failed_at = EXCLUDED.failed_at",
            letter.event_id,
            letter.handler,
            letter.event_type,
            letter.task_id,
            letter.error,
            letter.attempts,
            letter.failed_at,
        )

    async def list_dead_letters(
        self, handler: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        pool = await self._pool_ready()
        rows = await pool.fetch(
            f"SELECT event_id, handler, event_type, task_id, error, attempts, failed_at FROM {self.dead_table} "
            "WHERE ($1::text IS NULL OR handler = $1) ORDER BY failed_at, event_id, handler LIMIT $2 OFFSET $3",
            handler,
            int(limit),
            int(offset),
        )
        return [DeadLetter(**dict(r)) for r in rows]

    async def delete_dead_letter(self, event_id: str, handler: str) -> bool:
        pool = await self._pool_ready()
        done = await pool.execute(
            f"DELETE FROM {self.dead_table} WHERE event_id = $1 AND handler = $2", event_id, handler
        )
        return bool(done.endswith(" 1"))
