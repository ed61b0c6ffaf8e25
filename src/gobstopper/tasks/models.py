"""The task records: :class:`TaskStatus`, :class:`TaskPriority` and :class:`TaskInfo` (msgspec Structs).

Every timestamp is a naive datetime in UTC (the reference's convention). Arguments and results travel as JSON
(msgspec): a tuple argument comes back as a tuple of JSON values, a ``datetime`` as its ISO 8601 string.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = ["TERMINAL", "TaskInfo", "TaskPriority", "TaskStatus", "utcnow"]


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (the form every task timestamp has)."""
    return datetime.now(UTC).replace(tzinfo=None)


class TaskStatus(enum.Enum):
    """Where a task is in its life (values are the strings stored in the database).

    ``PENDING`` waits for a worker (also after a retry is scheduled or a lease was released); ``STARTED`` is held
    by a worker under a lease; ``SUCCESS``, ``FAILED`` and ``CANCELLED`` are terminal. ``FAILED`` is the *dead*
    state: the task used up ``max_retries`` (or its last worker was lost on the last attempt) and stays there, with
    its error, until :meth:`~gobstopper.tasks.queue.TaskQueue.retry_task` puts it back. ``RETRY`` is the
    reference's transient state: a failed task waiting for its backoff is stored as ``RETRY``.
    """

    PENDING = "pending"
    STARTED = "started"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY = "retry"


#: The states after which nothing runs any more (what ``cleanup_old_tasks`` may delete).
TERMINAL = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskPriority(enum.Enum):
    """Priority within a category: a higher value is claimed first, equal values in FIFO order.

    ``URGENT`` is another name for ``CRITICAL`` (the reference documents both spellings).
    """

    LOW = 1
    NORMAL = 2
    HIGH = 3
    CRITICAL = 4
    URGENT = 4


class TaskInfo(msgspec.Struct, kw_only=True):
    """One task: what to run, its state, its result or error.

    The reference's fields come first; the fields after ``progress_message`` are this implementation's delivery
    bookkeeping (all have defaults, so the reference's constructor calls keep working).

    Attributes:
        id: UUID4 string.
        name, category: the registered task and its category (worker pool).
        priority: :class:`TaskPriority`.
        status: :class:`TaskStatus`.
        created_at, started_at, completed_at: naive UTC; ``started_at`` is the start of the latest attempt.
        elapsed_seconds: duration of the latest attempt, in seconds.
        result: the task's return value, as JSON would carry it.
        error: ``"ExceptionType: message"`` of the latest failure (``None`` after a success).
        retry_count: failed attempts so far that were retried.
        max_retries: retries allowed after the first attempt (``max_retries + 1`` attempts in all).
        args, kwargs: the call's arguments.
        progress, progress_message: set by the task through :func:`gobstopper.tasks.set_progress`.
        run_at: not claimed before this time (``delay=``/``eta=``, retry backoff); ``None`` means now.
        timeout: seconds an attempt may run before it fails with ``TimeoutError``; ``None``: no limit.
        dedup_key: while a task with this key is unfinished, adding another returns the first one's id.
        attempts: claims so far, counted when a worker claims the task (so a task that kills its worker still
            reaches the dead state).
        lease_owner, lease_expires_at: the worker holding the task and until when (naive UTC).
        cancel_requested: a running task was asked to stop; its worker cancels it at its next heartbeat.
    """

    id: str
    name: str
    category: str
    priority: TaskPriority
    status: TaskStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    elapsed_seconds: float = 0.0
    result: Any = None
    error: str | None = None
    retry_count: int = 0
    max_retries: int = 0
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    progress: float = 0.0
    progress_message: str = ""
    run_at: datetime | None = None
    timeout: float | None = None
    dedup_key: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False

    @property
    def is_running(self) -> bool:
        """True while a worker runs the task (``STARTED``)."""
        return self.status is TaskStatus.STARTED

    @property
    def is_completed(self) -> bool:
        """True in a terminal state (``SUCCESS``, ``FAILED``, ``CANCELLED``); ``RETRY`` is not terminal."""
        return self.status in TERMINAL

    @property
    def max_attempts(self) -> int:
        """``max_retries + 1``: the claims a task gets before it is dead."""
        return self.max_retries + 1
