"""DuckDB task storage, the embedded default (the reference's ``gobstopper.tasks.storage.TaskStorage``).

One process owns a DuckDB file: DuckDB itself refuses a second writer, and this module turns that refusal into
:class:`~gobstopper.tasks._backend.TaskStorageLocked`, whose message names the PostgreSQL backend. Because the
owner is alone, tasks a previous owner left ``STARTED`` (it was killed) are put back to ``PENDING`` as soon as the
file is opened; their attempt stays counted.

Every call runs on one thread owned by the storage, never on the event loop. The reference's synchronous methods
(``save_task``, ``get_task``, ``get_tasks``, ``cleanup_old_tasks``) remain for scripts; from async code use the
queue, which goes through that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ._backend import (
    COLUMNS,
    READY,
    TERMINAL_VALUES,
    UNFINISHED,
    DeadLetter,
    EventRecord,
    TaskStorageLocked,
    row_to_task,
    task_to_row,
)
from .memory import _Listeners
from .models import TaskInfo, TaskStatus, utcnow

__all__ = ["TaskStorage", "TaskStorageLocked"]

T = TypeVar("T")

_SELECT = ", ".join(COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in COLUMNS)
_READY = ", ".join(f"'{s}'" for s in READY)
_UNFINISHED = ", ".join(f"'{s}'" for s in UNFINISHED)
_TERMINAL = ", ".join(f"'{s}'" for s in TERMINAL_VALUES)

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS gobstopper_task_seq;
CREATE TABLE IF NOT EXISTS gobstopper_tasks (
    id VARCHAR PRIMARY KEY,
    seq BIGINT NOT NULL DEFAULT nextval('gobstopper_task_seq'),
    name VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    elapsed_seconds DOUBLE NOT NULL DEFAULT 0,
    result VARCHAR,
    error VARCHAR,
    retry_count INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL DEFAULT 0,
    args VARCHAR NOT NULL DEFAULT '[]',
    kwargs VARCHAR NOT NULL DEFAULT '{}',
    progress DOUBLE NOT NULL DEFAULT 0,
    progress_message VARCHAR NOT NULL DEFAULT '',
    run_at TIMESTAMP,
    timeout DOUBLE,
    dedup_key VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner VARCHAR,
    lease_expires_at TIMESTAMP,
    cancel_requested BOOLEAN NOT NULL DEFAULT false
);
CREATE SEQUENCE IF NOT EXISTS gobstopper_event_seq;
CREATE TABLE IF NOT EXISTS gobstopper_events (
    id VARCHAR PRIMARY KEY,
    seq BIGINT NOT NULL DEFAULT nextval('gobstopper_event_seq'),
    type VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    subject VARCHAR,
    time TIMESTAMP NOT NULL,
    data VARCHAR NOT NULL,
    extensions VARCHAR NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS gobstopper_dead_letters (
    event_id VARCHAR NOT NULL,
    handler VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    task_id VARCHAR NOT NULL,
    error VARCHAR,
    attempts INTEGER NOT NULL,
    failed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, handler)
);
"""

#: Paths opened by a TaskStorage of this process: DuckDB would let a second connection in, silently.
_OPEN_PATHS: set[str] = set()
_OPEN_LOCK = threading.Lock()


def _locked_message(path: str, detail: str) -> str:
    return (
        f"the task database {path} is already open in another process ({detail}). DuckDB allows one process per "
        "file: run the task queue in a single process (for example `gobstopper run-tasks`), or use the PostgreSQL "
        "backend (GOBSTOPPER_TASKS_DATABASE=postgresql://...) for several processes or hosts"
    )


class TaskStorage(_Listeners):
    """Tasks (and events) in a DuckDB file; implements :class:`~gobstopper.tasks._backend.TaskBackend`.

    Args:
        db_path: the database file (created on first use, with its tables); ``":memory:"`` for a private
            in-memory database.
        clock: returns the current naive-UTC time (default :func:`~gobstopper.tasks.models.utcnow`).

    Raises:
        ImportError: DuckDB is not installed (``pip install 'gobstopper[tasks]'``), on first use.
        TaskStorageLocked: on first use, when another process (or another ``TaskStorage`` here) has the file open.
    """

    def __init__(self, db_path: str | Path = "gobstopper_tasks.duckdb", clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self.db_path = str(db_path)
        self.clock = clock
        self.connection: Any = None
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self._registered_path: str | None = None

    def __repr__(self) -> str:
        return f"<TaskStorage {self.db_path!r}>"

    # -- connection --------------------------------------------------------------------------------------

    def _conn(self) -> Any:
        if self.connection is not None:
            return self.connection
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the DuckDB task storage needs duckdb: pip install 'gobstopper[tasks]'") from exc
        key = None
        if self.db_path != ":memory:":
            key = str(Path(self.db_path).resolve())
            with _OPEN_LOCK:
                if key in _OPEN_PATHS:
                    raise TaskStorageLocked(_locked_message(self.db_path, "another TaskStorage in this process"))
                _OPEN_PATHS.add(key)
        try:
            connection = duckdb.connect(self.db_path)
        except duckdb.IOException as exc:
            if key is not None:
                with _OPEN_LOCK:
                    _OPEN_PATHS.discard(key)
            if "lock" in str(exc).lower():
                raise TaskStorageLocked(_locked_message(self.db_path, str(exc).splitlines()[0])) from exc
            raise
        except BaseException:
            if key is not None:
                with _OPEN_LOCK:
                    _OPEN_PATHS.discard(key)
            raise
        self._registered_path = key
        connection.execute(_SCHEMA)
        # This process owns the file now, so whoever left tasks STARTED is gone: give them back at once.
        connection.execute(
            "UPDATE gobstopper_tasks SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE status = 'started'"
        )
        self.connection = connection
        return connection

    def _close_sync(self) -> None:
        with self._lock:
            if self.connection is not None:
                try:
                    self.connection.execute("CHECKPOINT")
                finally:
                    self.connection.close()
                    self.connection = None
            if self._registered_path is not None:
                with _OPEN_LOCK:
                    _OPEN_PATHS.discard(self._registered_path)
                self._registered_path = None

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gobstopper-duckdb")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._locked, func, *args))

    def _locked(self, func: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return func(self._conn(), *args)

    # -- the reference's synchronous API -----------------------------------------------------------------

    def save_task(self, task_info: TaskInfo) -> None:
        """Insert or replace ``task_info``."""
        self._locked(self._save, task_info)

    def get_task(self, task_id: str) -> TaskInfo | None:
        """The task with ``task_id``, or None."""
        return self._locked(self._get, task_id)

    def get_tasks(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        """Tasks filtered by ``category`` and ``status``, newest first, ``limit``/``offset`` for paging."""
        return self._locked(self._query, category, status, limit, offset)

    def cleanup_old_tasks(self, days: int | None = None, months: int | None = None, years: int | None = None) -> int:
        """Delete finished (``SUCCESS``/``FAILED``/``CANCELLED``) tasks completed more than ``days`` +
        30·``months`` + 365·``years`` days ago; 0 when no period is given. Returns how many were deleted."""
        total = (days or 0) + 30 * (months or 0) + 365 * (years or 0)
        if not total:
            return 0
        return self._locked(self._purge, self.clock() - timedelta(days=total))

    def close_sync(self) -> None:
        """Close the file from synchronous code (``await close()`` from async code)."""
        self._close_sync()

    # -- statements (run with the lock held, on the storage's thread or the caller's) ---------------------

    @staticmethod
    def _save(conn: Any, task: TaskInfo) -> None:
        conn.execute(f"INSERT OR REPLACE INTO gobstopper_tasks ({_SELECT}) VALUES ({_PLACEHOLDERS})", task_to_row(task))

    @staticmethod
    def _get(conn: Any, task_id: str) -> TaskInfo | None:
        row = conn.execute(f"SELECT {_SELECT} FROM gobstopper_tasks WHERE id = ?", [task_id]).fetchone()
        return None if row is None else row_to_task(row)

    @staticmethod
    def _query(conn: Any, category: str | None, status: TaskStatus | None, limit: int, offset: int) -> list[TaskInfo]:
        sql = f"SELECT {_SELECT} FROM gobstopper_tasks WHERE 1 = 1"
        params: list[Any] = []
        if category is not None:
            sql += " AND category = ?"
            params.append(category)
        if status is not None:
            sql += " AND status = ?"
            params.append(TaskStatus(status).value)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
        return [row_to_task(row) for row in conn.execute(sql, params).fetchall()]

    @staticmethod
    def _purge(conn: Any, before: datetime) -> int:
        rows = conn.execute(
            f"DELETE FROM gobstopper_tasks WHERE status IN ({_TERMINAL}) "
            "AND coalesce(completed_at, created_at) < ? RETURNING id",
            [before],
        ).fetchall()
        return len(rows)

    def _enqueue_sync(self, conn: Any, task: TaskInfo, delay: float | None) -> str:
        if task.dedup_key is not None:
            row = conn.execute(
                f"SELECT id FROM gobstopper_tasks WHERE dedup_key = ? AND status IN ({_UNFINISHED}) LIMIT 1",
                [task.dedup_key],
            ).fetchone()
            if row is not None:
                return str(row[0])
        if delay is not None:
            task.run_at = self.clock() + timedelta(seconds=delay)
        self._save(conn, task)
        return task.id

    # -- TaskBackend --------------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._call(lambda conn: None)

    async def close(self) -> None:
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_sync)
            self._executor.shutdown(wait=True)
            self._executor = None
        else:
            self._close_sync()

    async def enqueue(self, task: TaskInfo, *, delay: float | None = None, connection: Any = None) -> str:
        if connection is not None:
            raise TypeError("connection= (enqueue in the caller's transaction) needs the PostgreSQL backend")
        task_id = await self._call(self._enqueue_sync, task, delay)
        self._wake(task.category)
        return task_id

    async def claim(self, category: str, owner: str, lease_seconds: float, limit: int) -> list[TaskInfo]:
        def claim(conn: Any) -> list[TaskInfo]:
            now = self.clock()
            rows = conn.execute(
                f"""UPDATE gobstopper_tasks SET status = 'started', attempts = attempts + 1, retry_count = attempts,
                    started_at = ?, lease_owner = ?, lease_expires_at = ?
                WHERE id IN (
                    SELECT id FROM gobstopper_tasks
                    WHERE category = ? AND status IN ({_READY}) AND (run_at IS NULL OR run_at <= ?)
                    ORDER BY priority DESC, seq LIMIT ?)
                RETURNING {_SELECT}, seq""",
                [now, owner, now + timedelta(seconds=lease_seconds), category, now, int(limit)],
            ).fetchall()
            rows.sort(key=lambda row: (-row[3], row[-1]))
            return [row_to_task(row[:-1]) for row in rows]

        return await self._call(claim)

    async def renew(self, owner: str, lease_seconds: float) -> tuple[set[str], set[str]]:
        def renew(conn: Any) -> tuple[set[str], set[str]]:
            rows = conn.execute(
                "UPDATE gobstopper_tasks SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'started' "
                "RETURNING id, cancel_requested",
                [self.clock() + timedelta(seconds=lease_seconds), owner],
            ).fetchall()
            return {row[0] for row in rows}, {row[0] for row in rows if row[1]}

        return await self._call(renew)

    async def reap(self) -> list[str]:
        def reap(conn: Any) -> list[str]:
            rows = conn.execute(
                "UPDATE gobstopper_tasks SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL "
                "WHERE status = 'started' AND lease_expires_at < ? RETURNING category",
                [self.clock()],
            ).fetchall()
            return [row[0] for row in rows]

        categories = await self._call(reap)
        for category in set(categories):
            self._wake(category)
        return categories

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
        def finish(conn: Any) -> bool:
            now = self.clock()
            terminal = status.value in TERMINAL_VALUES
            rows = conn.execute(
                """UPDATE gobstopper_tasks SET status = ?, result = ?, error = ?, elapsed_seconds = ?,
                    completed_at = CASE WHEN ? THEN ? ELSE completed_at END,
                    run_at = CASE WHEN ? THEN ? ELSE run_at END,
                    progress = CASE WHEN ? THEN 100 ELSE progress END,
                    lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ? AND lease_owner = ? AND status = 'started' RETURNING id""",
                [
                    status.value,
                    result,
                    error,
                    elapsed,
                    terminal,
                    now,
                    retry_delay is not None,
                    now + timedelta(seconds=retry_delay or 0),
                    status is TaskStatus.SUCCESS,
                    task_id,
                    owner,
                ],
            ).fetchall()
            return bool(rows)

        return await self._call(finish)

    async def release(self, task_id: str, owner: str) -> bool:
        def release(conn: Any) -> list[Any]:
            return list(
                conn.execute(
                    "UPDATE gobstopper_tasks SET status = 'pending', attempts = greatest(attempts - 1, 0), "
                    "lease_owner = NULL, lease_expires_at = NULL "
                    "WHERE id = ? AND lease_owner = ? AND status = 'started' RETURNING category",
                    [task_id, owner],
                ).fetchall()
            )

        rows = await self._call(release)
        for row in rows:
            self._wake(row[0])
        return bool(rows)

    async def cancel(self, task_id: str) -> bool:
        def cancel(conn: Any) -> bool:
            rows = conn.execute(
                f"UPDATE gobstopper_tasks SET status = 'cancelled', completed_at = ? "
                f"WHERE id = ? AND status IN ({_READY}) RETURNING id",
                [self.clock(), task_id],
            ).fetchall()
            if rows:
                return True
            rows = conn.execute(
                "UPDATE gobstopper_tasks SET cancel_requested = true WHERE id = ? AND status = 'started' RETURNING id",
                [task_id],
            ).fetchall()
            return bool(rows)

        return await self._call(cancel)

    async def requeue(self, task_id: str) -> bool:
        def requeue(conn: Any) -> list[Any]:
            row = conn.execute("SELECT status, dedup_key FROM gobstopper_tasks WHERE id = ?", [task_id]).fetchone()
            if row is None or row[0] != TaskStatus.FAILED.value:
                return []
            if row[1] is not None:
                taken = conn.execute(
                    f"SELECT 1 FROM gobstopper_tasks WHERE dedup_key = ? AND status IN ({_UNFINISHED})", [row[1]]
                ).fetchone()
                if taken:
                    return []
            return list(
                conn.execute(
                    """UPDATE gobstopper_tasks SET status = 'pending', attempts = 0, error = NULL, started_at = NULL,
                        completed_at = NULL, run_at = NULL, elapsed_seconds = 0, progress = 0, progress_message = '',
                        cancel_requested = false
                    WHERE id = ? AND status = 'failed' RETURNING category""",
                    [task_id],
                ).fetchall()
            )

        rows = await self._call(requeue)
        for row in rows:
            self._wake(row[0])
        return bool(rows)

    async def set_progress(self, task_id: str, owner: str, progress: float, message: str) -> None:
        await self._call(
            lambda conn: conn.execute(
                "UPDATE gobstopper_tasks SET progress = ?, progress_message = ? "
                "WHERE id = ? AND lease_owner = ? AND status = 'started'",
                [progress, message, task_id, owner],
            )
        )

    async def fetch(self, task_id: str) -> TaskInfo | None:
        return await self._call(self._get, task_id)

    async def query(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        return await self._call(self._query, category, status, limit, offset)

    async def counts(self) -> list[tuple[str, str, int]]:
        def counts(conn: Any) -> list[tuple[str, str, int]]:
            rows = conn.execute(
                "SELECT status, category, count(*) FROM gobstopper_tasks GROUP BY status, category"
            ).fetchall()
            return [(str(s), str(c), int(n)) for s, c, n in rows]

        return await self._call(counts)

    async def purge(self, before: datetime) -> int:
        return await self._call(self._purge, before)

    # -- events ------------------------------------------------------------------------------------------

    async def append_event(self, event: EventRecord, deliveries: Sequence[TaskInfo], *, connection: Any = None) -> None:
        if connection is not None:
            raise TypeError("connection= (publish in the caller's transaction) needs the PostgreSQL backend")

        def append(conn: Any) -> None:
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute(
                    "INSERT INTO gobstopper_events (id, type, source, subject, time, data, extensions) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [event.id, event.type, event.source, event.subject, event.time, event.data, event.extensions],
                )
                for task in deliveries:
                    self._enqueue_sync(conn, task, None)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._call(append)
        for category in {task.category for task in deliveries}:
            self._wake(category)

    async def get_event(self, event_id: str) -> EventRecord | None:
        def get(conn: Any) -> EventRecord | None:
            row = conn.execute(
                "SELECT id, type, source, subject, time, data, extensions FROM gobstopper_events WHERE id = ?",
                [event_id],
            ).fetchone()
            return None if row is None else _event(row)

        return await self._call(get)

    async def list_events(
        self, type: str | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> list[EventRecord]:
        def list_(conn: Any) -> list[EventRecord]:
            sql = "SELECT id, type, source, subject, time, data, extensions FROM gobstopper_events WHERE 1 = 1"
            params: list[Any] = []
            if type is not None:
                sql += " AND type = ?"
                params.append(type)
            if since is not None:
                sql += " AND time >= ?"
                params.append(since)
            sql += " ORDER BY time, seq LIMIT ? OFFSET ?"
            return [_event(row) for row in conn.execute(sql, [*params, int(limit), int(offset)]).fetchall()]

        return await self._call(list_)

    async def put_dead_letter(self, letter: DeadLetter) -> None:
        await self._call(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO gobstopper_dead_letters "
                "(event_id, handler, event_type, task_id, error, attempts, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    letter.event_id,
                    letter.handler,
                    letter.event_type,
                    letter.task_id,
                    letter.error,
                    letter.attempts,
                    letter.failed_at,
                ],
            )
        )

    async def list_dead_letters(
        self, handler: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        def list_(conn: Any) -> list[DeadLetter]:
            sql = (
                "SELECT event_id, handler, event_type, task_id, error, attempts, failed_at FROM gobstopper_dead_letters"
            )
            params: list[Any] = []
            if handler is not None:
                sql += " WHERE handler = ?"
                params.append(handler)
            sql += " ORDER BY failed_at, event_id, handler LIMIT ? OFFSET ?"
            return [_dead_letter(row) for row in conn.execute(sql, [*params, int(limit), int(offset)]).fetchall()]

        return await self._call(list_)

    async def delete_dead_letter(self, event_id: str, handler: str) -> bool:
        def delete(conn: Any) -> bool:
            rows = conn.execute(
                "DELETE FROM gobstopper_dead_letters WHERE event_id = ? AND handler = ? RETURNING event_id",
                [event_id, handler],
            ).fetchall()
            return bool(rows)

        return await self._call(delete)


def _event(row: Sequence[Any]) -> EventRecord:
    return EventRecord(
        id=row[0], type=row[1], source=row[2], subject=row[3], time=row[4], data=row[5], extensions=row[6]
    )


def _dead_letter(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        event_id=row[0],
        handler=row[1],
        event_type=row[2],
        task_id=row[3],
        error=row[4],
        attempts=int(row[5]),
        failed_at=row[6],
    )
