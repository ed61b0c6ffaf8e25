"""What the queue needs from a storage backend (:class:`TaskBackend`), and what every backend shares.

The three backends (:class:`~gobstopper.tasks.memory.MemoryTaskStorage`, the DuckDB
:class:`~gobstopper.tasks.storage.TaskStorage`, :class:`~gobstopper.tasks.postgres.PostgresTaskStorage`) implement
the same state machine; ``docs/tasks.md`` states it and ``tests/test_tasks_backends.py`` runs one suite on all three.

- ``enqueue`` stores a ``PENDING`` task (returns only once it is durable) and wakes the category's workers.
- ``claim`` takes up to ``limit`` runnable tasks of a category (``PENDING``/``RETRY`` whose ``run_at`` has come),
  highest priority first then oldest first, and marks them ``STARTED`` with ``attempts + 1`` and a lease.
- ``renew`` extends every lease an owner holds and says which of its tasks were asked to cancel.
- ``reap`` puts tasks whose lease expired back to ``PENDING`` (their worker is gone); the next claim counts a new
  attempt, so a task that kills every worker that runs it still reaches the dead state.
- ``finish`` records the outcome of an attempt, only if the caller still holds the lease.
- ``release`` gives a claimed task back without counting the attempt (graceful shutdown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import msgspec

from .models import TaskInfo, TaskPriority, TaskStatus

__all__ = ["COLUMNS", "DeadLetter", "EventRecord", "TaskBackend", "TaskStorageLocked", "row_to_task", "task_to_row"]

#: Statuses a worker may claim (once ``run_at`` has come).
READY = (TaskStatus.PENDING.value, TaskStatus.RETRY.value)
#: Terminal statuses, as stored.
TERMINAL_VALUES = (TaskStatus.SUCCESS.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)
#: Statuses during which a ``dedup_key`` is taken.
UNFINISHED = (TaskStatus.PENDING.value, TaskStatus.RETRY.value, TaskStatus.STARTED.value)

#: The task table's columns, in the order rows are read and written by the SQL backends.
COLUMNS = (
    "id",
    "name",
    "category",
    "priority",
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "elapsed_seconds",
    "result",
    "error",
    "retry_count",
    "max_retries",
    "args",
    "kwargs",
    "progress",
    "progress_message",
    "run_at",
    "timeout",
    "dedup_key",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "cancel_requested",
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


class TaskStorageLocked(RuntimeError):
    """Another process (or another storage object in this one) owns the DuckDB file.

    DuckDB lets one process open a database file for writing; several worker processes need the PostgreSQL backend.
    """


class EventRecord(msgspec.Struct, kw_only=True):
    """A stored event as backends keep it (``data`` and ``extensions`` as JSON text)."""

    id: str
    type: str
    source: str
    subject: str | None
    time: datetime
    data: str
    extensions: str = "{}"


class DeadLetter(msgspec.Struct, kw_only=True):
    """A delivery of an event to one handler that used up its attempts.

    Attributes:
        event_id, handler: which event, to which subscriber (the pair is the key).
        event_type: the event's type (for listing and replay filters).
        task_id: the dead delivery task (its ``TaskInfo`` keeps the attempts and timings).
        error: the last attempt's error.
        attempts: attempts made.
        failed_at: when it was dead-lettered (naive UTC).
    """

    event_id: str
    handler: str
    event_type: str
    task_id: str
    error: str | None
    attempts: int
    failed_at: datetime


def encode_json(value: Any) -> str:
    """``value`` as JSON text (msgspec). Raises ``TypeError`` when it is not encodable."""
    return _encode(value).decode()


def task_to_row(task: TaskInfo) -> tuple[Any, ...]:
    """``task`` as a row in :data:`COLUMNS` order (enums as values, arguments and result as JSON text)."""
    return (
        task.id,
        task.name,
        task.category,
        task.priority.value,
        task.status.value,
        task.created_at,
        task.started_at,
        task.completed_at,
        task.elapsed_seconds,
        None if task.result is None else encode_json(task.result),
        task.error,
        task.retry_count,
        task.max_retries,
        encode_json(list(task.args)),
        encode_json(task.kwargs),
        task.progress,
        task.progress_message,
        task.run_at,
        task.timeout,
        task.dedup_key,
        task.attempts,
        task.lease_owner,
        task.lease_expires_at,
        task.cancel_requested,
    )


def row_to_task(row: Sequence[Any]) -> TaskInfo:
    """The :class:`TaskInfo` for a row in :data:`COLUMNS` order."""
    values = dict(zip(COLUMNS, row))
    values["priority"] = TaskPriority(values["priority"])
    values["status"] = TaskStatus(values["status"])
    values["result"] = None if values["result"] is None else _decode(values["result"])
    values["args"] = tuple(_decode(values["args"]))
    values["kwargs"] = _decode(values["kwargs"])
    values["progress_message"] = values["progress_message"] or ""
    values["cancel_requested"] = bool(values["cancel_requested"])
    return TaskInfo(**values)


@runtime_checkable
class TaskBackend(Protocol):
    """The storage interface :class:`~gobstopper.tasks.queue.TaskQueue` runs on (all methods are coroutines).

    Times are decided by the backend's clock (the database server's for PostgreSQL), so workers on several hosts
    agree on leases and ``run_at``.
    """

    async def open(self) -> None:
        """Connect and create the tables (idempotent)."""

    async def close(self) -> None:
        """Release connections and files (a later call opens again)."""

    async def enqueue(self, task: TaskInfo, *, delay: float | None = None, connection: Any = None) -> str:
        """Store ``task`` (``run_at`` = now + ``delay`` seconds when given); return its id, or the id of the
        unfinished task holding the same ``dedup_key``. ``connection`` (PostgreSQL only) enqueues inside the
        caller's transaction."""

    async def claim(self, category: str, owner: str, lease_seconds: float, limit: int) -> list[TaskInfo]:
        """Mark up to ``limit`` runnable tasks of ``category`` as started by ``owner``; return them."""

    async def renew(self, owner: str, lease_seconds: float) -> tuple[set[str], set[str]]:
        """Extend ``owner``'s leases; return (ids still held, ids whose cancellation was requested)."""

    async def reap(self) -> list[str]:
        """Put started tasks whose lease expired back to ``PENDING``; return their categories."""

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
        """Record an attempt's outcome (``result`` as JSON text); False when ``owner`` no longer holds the lease."""

    async def release(self, task_id: str, owner: str) -> bool:
        """Give a started task back (``PENDING``, attempt not counted); False when not held by ``owner``."""

    async def cancel(self, task_id: str) -> bool:
        """Cancel a waiting task, or ask the worker of a started one to stop; False when it is finished/unknown."""

    async def requeue(self, task_id: str) -> bool:
        """Put a ``FAILED`` (dead) task back to ``PENDING`` with a fresh attempt budget; False otherwise."""

    async def set_progress(self, task_id: str, owner: str, progress: float, message: str) -> None:
        """Store a running task's progress."""

    async def fetch(self, task_id: str) -> TaskInfo | None:
        """One task, or None."""

    async def query(
        self, category: str | None = None, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskInfo]:
        """Tasks, newest first."""

    async def counts(self) -> list[tuple[str, str, int]]:
        """(status value, category, count) for every task."""

    async def purge(self, before: datetime) -> int:
        """Delete finished tasks completed before ``before``; return how many."""

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(category)`` when a task of ``category`` may have become runnable."""

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        """Stop calling ``callback``."""

    # -- events (gobstopper.eda) -------------------------------------------------------------------------

    async def append_event(self, event: EventRecord, deliveries: Sequence[TaskInfo], *, connection: Any = None) -> None:
        """Store ``event`` and enqueue its delivery tasks, in one transaction."""

    async def get_event(self, event_id: str) -> EventRecord | None:
        """One stored event, or None."""

    async def list_events(
        self, type: str | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> list[EventRecord]:
        """Stored events, oldest first (the order replay uses)."""

    async def put_dead_letter(self, letter: DeadLetter) -> None:
        """Store (or replace) the dead letter for ``(event_id, handler)``."""

    async def list_dead_letters(
        self, handler: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        """Dead letters, oldest first."""

    async def delete_dead_letter(self, event_id: str, handler: str) -> bool:
        """Remove one dead letter; False when there was none."""
