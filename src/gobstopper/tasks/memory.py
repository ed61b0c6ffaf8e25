"""An in-memory task backend: the same state machine as DuckDB and PostgreSQL, nothing survives the process.

For tests and throwaway runs (``GOBSTOPPER_TASKS_DATABASE=memory``). ``clock`` can be replaced to test leases,
delays and backoff without waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ._backend import READY, TERMINAL_VALUES, UNFINISHED, DeadLetter, EventRecord
from .models import TaskInfo, TaskStatus, utcnow

__all__ = ["MemoryTaskStorage"]

_replace = msgspec.structs.replace


class _Listeners:
    """Wake-up callbacks for backends that live in the worker's own process."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _wake(self, category: str) -> None:
        for callback in list(self._listeners):
            callback(category)


class MemoryTaskStorage(_Listeners):
    """Tasks in a dict; implements :class:`~gobstopper.tasks._backend.TaskBackend` and the reference's
    synchronous ``save_task`` / ``get_task`` / ``get_tasks`` / ``cleanup_old_tasks``.

    Args:
        clock: returns the current naive-UTC time (default :func:`~gobstopper.tasks.models.utcnow`).
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self.clock = clock
        self._tasks: dict[str, TaskInfo] = {}
        self._seq: dict[str, int] = {}
        self._counter = itertools.count()
        self._events: dict[str, EventRecord] = {}
        self._event_seq: dict[str, int] = {}
        self._dead: dict[tuple[str, str], DeadLetter] = {}

    # -- the reference's synchronous storage API ---------------------------------------------------------

    def save_task(self, task_info: TaskInfo) -> None:
        """Insert or replace ``task_info``."""
        self._seq.setdefault(task_info.id, next(self._counter))
        self._tasks[task_info.id] = _replace(task_info)

    def get_task(self, task_id: str) -> TaskInfo | None:
        """The task with ``task_id``, or None."""
        task = self._tasks.get(task_id)
        return None if task is None else _replace(task)

    def get_tasks(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        """Tasks filtered by ``category`` and ``status``, newest first."""
        found = [
            t
            for t in self._tasks.values()
            if (category is None or t.category == category) and (status is None or t.status is status)
        ]
        found.sort(key=lambda t: (t.created_at, self._seq[t.id]), reverse=True)
        return [_replace(t) for t in found[offset : offset + limit]]

    def cleanup_old_tasks(self, days: int | None = None, months: int | None = None, years: int | None = None) -> int:
        """Delete finished tasks completed more than ``days`` + 30·``months`` + 365·``years`` days ago."""
        total = (days or 0) + 30 * (months or 0) + 365 * (years or 0)
        if not total:
            return 0
        return self._purge(self.clock() - timedelta(days=total))

    # -- TaskBackend --------------------------------------------------------------------------------------

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def enqueue(self, task: TaskInfo, *, delay: float | None = None, connection: Any = None) -> str:
        if connection is not None:
            raise TypeError("connection= (enqueue in the caller's transaction) needs the PostgreSQL backend")
        return self._enqueue(task, delay)

    def _enqueue(self, task: TaskInfo, delay: float | None) -> str:
        if task.dedup_key is not None:
            for other in self._tasks.values():
                if other.dedup_key == task.dedup_key and other.status.value in UNFINISHED:
                    return other.id
        if delay is not None:
            task = _replace(task, run_at=self.clock() + timedelta(seconds=delay))
        self.save_task(task)
        self._wake(task.category)
        return task.id

    async def claim(self, category: str, owner: str, lease_seconds: float, limit: int) -> list[TaskInfo]:
        now = self.clock()
        ready = [
            t
            for t in self._tasks.values()
            if t.category == category and t.status.value in READY and (t.run_at is None or t.run_at <= now)
        ]
        ready.sort(key=lambda t: (-t.priority.value, self._seq[t.id]))
        claimed = []
        for task in ready[:limit]:
            task = _replace(
                task,
                status=TaskStatus.STARTED,
                attempts=task.attempts + 1,
                retry_count=task.attempts,
                started_at=now,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
            )
            self._tasks[task.id] = task
            claimed.append(_replace(task))
        return claimed

    async def renew(self, owner: str, lease_seconds: float) -> tuple[set[str], set[str]]:
        expires = self.clock() + timedelta(seconds=lease_seconds)
        held, cancel = set(), set()
        for task in self._tasks.values():
            if task.lease_owner == owner and task.status is TaskStatus.STARTED:
                task.lease_expires_at = expires
                held.add(task.id)
                if task.cancel_requested:
                    cancel.add(task.id)
        return held, cancel

    async def reap(self) -> list[str]:
        now = self.clock()
        categories = []
        for task in self._tasks.values():
            if task.status is TaskStatus.STARTED and task.lease_expires_at is not None and task.lease_expires_at < now:
                task.status = TaskStatus.PENDING
                task.lease_owner = task.lease_expires_at = None
                categories.append(task.category)
        for category in set(categories):
            self._wake(category)
        return categories

    def _held(self, task_id: str, owner: str) -> TaskInfo | None:
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.STARTED or task.lease_owner != owner:
            return None
        return task

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
        task = self._held(task_id, owner)
        if task is None:
            return False
        now = self.clock()
        task.status = status
        task.result = None if result is None else msgspec.json.decode(result)
        task.error = error
        task.elapsed_seconds = elapsed
        task.lease_owner = task.lease_expires_at = None
        if status.value in TERMINAL_VALUES:
            task.completed_at = now
        if status is TaskStatus.SUCCESS:
            task.progress = 100.0
        if retry_delay is not None:
            task.run_at = now + timedelta(seconds=retry_delay)
        return True

    async def release(self, task_id: str, owner: str) -> bool:
        task = self._held(task_id, owner)
        if task is None:
            return False
        task.status = TaskStatus.PENDING
        task.attempts = max(0, task.attempts - 1)
        task.lease_owner = task.lease_expires_at = None
        self._wake(task.category)
        return True

    async def cancel(self, task_id: str) -> bool:
        task = self._tasks.get(task_id)
        if task is None:
            return False
        if task.status.value in READY:
            task.status = TaskStatus.CANCELLED
            task.completed_at = self.clock()
            return True
        if task.status is TaskStatus.STARTED:
            task.cancel_requested = True
            return True
        return False

    async def requeue(self, task_id: str) -> bool:
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.FAILED:
            return False
        if task.dedup_key is not None and any(
            t.dedup_key == task.dedup_key and t.status.value in UNFINISHED for t in self._tasks.values()
        ):
            return False
        task.status = TaskStatus.PENDING
        task.attempts = 0
        task.error = None
        task.started_at = task.completed_at = task.run_at = None
        task.elapsed_seconds = task.progress = 0.0
        task.progress_message = ""
        task.cancel_requested = False
        self._wake(task.category)
        return True

    async def set_progress(self, task_id: str, owner: str, progress: float, message: str) -> None:
        task = self._held(task_id, owner)
        if task is not None:
            task.progress, task.progress_message = progress, message

    async def fetch(self, task_id: str) -> TaskInfo | None:
        return self.get_task(task_id)

    async def query(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        return self.get_tasks(category=category, status=status, limit=limit, offset=offset)

    async def counts(self) -> list[tuple[str, str, int]]:
        tally: dict[tuple[str, str], int] = {}
        for task in self._tasks.values():
            key = (task.status.value, task.category)
            tally[key] = tally.get(key, 0) + 1
        return [(status, category, n) for (status, category), n in tally.items()]

    async def purge(self, before: datetime) -> int:
        return self._purge(before)

    def _purge(self, before: datetime) -> int:
        old = [
            t.id
            for t in self._tasks.values()
            if t.status.value in TERMINAL_VALUES and (t.completed_at or t.created_at) < before
        ]
        for task_id in old:
            del self._tasks[task_id]
            del self._seq[task_id]
        return len(old)

    # -- events ------------------------------------------------------------------------------------------

    async def append_event(self, event: EventRecord, deliveries: Sequence[TaskInfo], *, connection: Any = None) -> None:
        if connection is not None:
            raise TypeError("connection= (publish in the caller's transaction) needs the PostgreSQL backend")
        if event.id not in self._events:
            self._event_seq[event.id] = len(self._event_seq)
            self._events[event.id] = event
        for task in deliveries:
            self._enqueue(task, None)

    async def get_event(self, event_id: str) -> EventRecord | None:
        return self._events.get(event_id)

    async def list_events(
        self, type: str | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> list[EventRecord]:
        found = [
            e for e in self._events.values() if (type is None or e.type == type) and (since is None or e.time >= since)
        ]
        found.sort(key=lambda e: (e.time, self._event_seq[e.id]))
        return found[offset : offset + limit]

    async def put_dead_letter(self, letter: DeadLetter) -> None:
        self._dead[(letter.event_id, letter.handler)] = letter

    async def list_dead_letters(
        self, handler: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        found = [d for d in self._dead.values() if handler is None or d.handler == handler]
        found.sort(key=lambda d: (d.failed_at, d.event_id, d.handler))
        return found[offset : offset + limit]

    async def delete_dead_letter(self, event_id: str, handler: str) -> bool:
        return self._dead.pop((event_id, handler), None) is not None
