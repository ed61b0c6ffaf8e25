"""The task queue: register task functions, add tasks, run workers (the reference's ``gobstopper.tasks.queue``).

Delivery is *at least once*: a worker claims a task under a lease that it renews while the task runs; when a worker
dies (kill -9, lost host), its lease expires and the task is claimed again. Failures are retried with exponential
backoff and jitter up to ``max_retries``; then the task is dead (``FAILED``, with its error) until
:meth:`TaskQueue.retry_task`. ``docs/tasks.md`` states the whole contract.

Tasks are off by default: ``GOBSTOPPER_TASKS_ENABLED=1`` (or ``TaskQueue(enabled=True)``) turns them on. The
environment is read once, when the queue is created.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._backend import TaskBackend, encode_json
from .models import TaskInfo, TaskPriority, TaskStatus, utcnow

__all__ = [
    "NoopStorage",
    "TaskNotRegistered",
    "TaskPriority",
    "TaskQueue",
    "TaskStatus",
    "current_task",
    "set_progress",
    "should_run_background_workers",
    "storage_from_url",
    "tasks_enabled_from_env",
]

logger = logging.getLogger("gobstopper.tasks")

_TRUE = {"1", "true", "yes", "on"}
#: Where the default storage lives: a ``postgresql://`` DSN, ``memory``, or a DuckDB file path.
DATABASE_ENV = "GOBSTOPPER_TASKS_DATABASE"
DEFAULT_DUCKDB_PATH = "gobstopper_tasks.duckdb"


def _env_flag(*names: str) -> bool | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            return value.strip().lower() in _TRUE
    return None


def tasks_enabled_from_env() -> bool:
    """Whether ``GOBSTOPPER_TASKS_ENABLED`` (or the reference's ``WOPR_TASKS_ENABLED``) is 1/true/yes/on."""
    return bool(_env_flag("GOBSTOPPER_TASKS_ENABLED", "WOPR_TASKS_ENABLED"))


def _is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def should_run_background_workers() -> bool:
    """Whether this process should start task workers (call it in an ``on_startup`` handler).

    In order: ``GOBSTOPPER_FORCE_WORKERS`` (or ``WOPR_FORCE_WORKERS``) decides when set; with the PostgreSQL
    backend (``GOBSTOPPER_TASKS_DATABASE`` is a ``postgresql://`` DSN) every process may run workers; otherwise
    ``GRANIAN_WORKER_ID`` / ``GUNICORN_WORKER_ID``, when the deployment sets one, must be ``"0"``; a process with
    none of these is taken to be alone and runs them. DuckDB allows one process per file, which is why only one
    web worker may own an embedded queue (``docs/tasks.md``).
    """
    forced = _env_flag("GOBSTOPPER_FORCE_WORKERS", "WOPR_FORCE_WORKERS")
    if forced is not None:
        return forced
    if _is_postgres(os.environ.get(DATABASE_ENV)):
        return True
    for name in ("GRANIAN_WORKER_ID", "GUNICORN_WORKER_ID"):
        worker_id = os.environ.get(name)
        if worker_id is not None:
            return worker_id.strip() == "0"
    return "gunicorn" not in os.environ.get("SERVER_SOFTWARE", "").lower()


def storage_from_url(url: str | None) -> Any:
    """The storage a URL names: a ``postgresql://`` DSN → :class:`~gobstopper.tasks.postgres.PostgresTaskStorage`,
    ``memory`` → :class:`~gobstopper.tasks.memory.MemoryTaskStorage`, anything else (default
    ``gobstopper_tasks.duckdb``) → the DuckDB :class:`~gobstopper.tasks.storage.TaskStorage` at that path."""
    if _is_postgres(url):
        from .postgres import PostgresTaskStorage

        return PostgresTaskStorage(str(url))
    if url in ("memory", ":memory:"):
        from .memory import MemoryTaskStorage

        return MemoryTaskStorage()
    from .storage import TaskStorage

    return TaskStorage(url or DEFAULT_DUCKDB_PATH)


class TaskNotRegistered(KeyError, ValueError):
    """No task function is registered under that name (a ``KeyError`` and a ``ValueError``, as the reference
    documents both)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "task not registered"


class NoopStorage:
    """The storage of a disabled queue: saves nothing, finds nothing, creates no file (the reference's null object)."""

    def save_task(self, task_info: TaskInfo) -> None:
        """Do nothing."""

    def get_task(self, task_id: str) -> TaskInfo | None:
        """Always None."""
        return None

    def get_tasks(self, **kwargs: Any) -> list[TaskInfo]:
        """Always empty."""
        return []

    def cleanup_old_tasks(self, **kwargs: Any) -> int:
        """Always 0."""
        return 0


@dataclass
class _Registered:
    func: Callable[..., Any]
    category: str
    is_async: bool
    timeout: float | None


@dataclass
class _Running:
    task: TaskInfo
    owner: str
    queue: TaskQueue
    future: asyncio.Task[Any] | None = None
    claimed_at: float = 0.0
    stop_reason: str | None = None  # "cancel" | "shutdown" | "lost"


_current: contextvars.ContextVar[_Running | None] = contextvars.ContextVar("gobstopper_task", default=None)


def current_task() -> TaskInfo | None:
    """The :class:`TaskInfo` of the task running in this context (async or sync task function), else None."""
    running = _current.get()
    return None if running is None else running.task


async def set_progress(progress: float, message: str = "") -> None:
    """Store the running task's progress (0–100) and a message, readable through ``get_task_info``.

    Raises:
        RuntimeError: called outside a task.
    """
    running = _current.get()
    if running is None:
        raise RuntimeError("set_progress() is only available inside a running task")
    running.task.progress, running.task.progress_message = float(progress), message
    await running.queue.storage.set_progress(running.task.id, running.owner, float(progress), message)


class _Pool:
    """The workers of one category in this process: ``size`` tasks at a time."""

    def __init__(self, category: str) -> None:
        self.category = category
        self.size = 0
        self.running: set[asyncio.Task[Any]] = set()
        self.wake = asyncio.Event()
        self.loop_task: asyncio.Task[Any] | None = None


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TaskQueue:
    """Registered task functions, a storage backend, and the workers of this process.

    Args:
        enabled: turn tasks on or off; ``None`` reads ``GOBSTOPPER_TASKS_ENABLED`` (off unless set).
        storage_factory: a callable returning the storage (a :class:`~gobstopper.tasks._backend.TaskBackend`:
            ``MemoryTaskStorage()``, ``TaskStorage(path)`` for DuckDB, ``PostgresTaskStorage(dsn)``). Without it,
            ``GOBSTOPPER_TASKS_DATABASE`` picks one (:func:`storage_from_url`), DuckDB by default.
        lease_seconds: how long a claim stays valid without renewal; workers renew every third of it. A task
            whose worker died runs again after at most this long.
        poll_interval: seconds between claims when no wake-up arrives (delayed tasks, retries, a missed NOTIFY).
        retry_base, retry_cap: backoff before retry *n* is ``min(retry_cap, retry_base * 2**(n-1))`` seconds times
            a jitter factor drawn from [0.5, 1.0).
        shutdown_timeout: seconds :meth:`shutdown` lets running tasks finish before it cancels them and releases
            their leases.

    Attributes:
        enabled: whether tasks are on.
        task_functions: registered functions by name.
        workers: the worker loops of this process by category.
        running_tasks: the tasks running in this process by id.
        shutdown_event: set once :meth:`shutdown` starts.
        owner: this queue's worker identity in leases (``host:pid:random``).
    """

    def __init__(
        self,
        enabled: bool | None = None,
        storage_factory: Callable[[], Any] | None = None,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        retry_base: float = 1.0,
        retry_cap: float = 60.0,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self.enabled = tasks_enabled_from_env() if enabled is None else bool(enabled)
        self.database_url = os.environ.get(DATABASE_ENV)  # read once, here
        self._storage_factory = storage_factory
        self._storage: Any = None
        self.lease_seconds = float(lease_seconds)
        self.poll_interval = float(poll_interval)
        self.retry_base = float(retry_base)
        self.retry_cap = float(retry_cap)
        self.shutdown_timeout = float(shutdown_timeout)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.task_functions: dict[str, Callable[..., Any]] = {}
        self._registered: dict[str, _Registered] = {}
        self.workers: dict[str, list[asyncio.Task[Any]]] = {}
        self.running_tasks: dict[str, TaskInfo] = {}
        self.shutdown_event = asyncio.Event()
        self._pools: dict[str, _Pool] = {}
        self._running: dict[str, _Running] = {}
        self._heartbeat: asyncio.Task[Any] | None = None
        self._listening = False
        self._dead_callbacks: list[Callable[[TaskInfo], Awaitable[None]]] = []
        self._random = random.Random()

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"<TaskQueue {state} storage={type(self._storage).__name__ if self._storage else 'unopened'}>"

    # -- storage -----------------------------------------------------------------------------------------

    @property
    def storage(self) -> Any:
        """The storage backend, created on first use (:class:`NoopStorage` when tasks are disabled)."""
        if not self.enabled:
            return NoopStorage()
        if self._storage is None:
            self._storage = self._storage_factory() if self._storage_factory else storage_from_url(self.database_url)
            if not isinstance(self._storage, TaskBackend):
                raise TypeError(f"{type(self._storage).__name__} does not implement the task storage interface")
        return self._storage

    # -- registration and enqueueing ---------------------------------------------------------------------

    def register_task(
        self, name: str, category: str = "default", *, timeout: float | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: make ``func`` (sync or async) runnable as task ``name`` in ``category``.

        Args:
            name: unique across categories.
            category: the worker pool that runs it.
            timeout: default per-attempt timeout in seconds (``add_task(timeout=...)`` overrides it).

        Raises:
            ValueError: ``name`` is already registered in another category.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            existing = self._registered.get(name)
            if existing is not None and existing.category != category:
                raise ValueError(f"task {name!r} is already registered in category {existing.category!r}")
            self._registered[name] = _Registered(func, category, inspect.iscoroutinefunction(func), timeout)
            self.task_functions[name] = func
            return func

        return decorator

    def _require_enabled(self) -> None:
        if not self.enabled:
            raise RuntimeError(
                "background tasks are disabled: set GOBSTOPPER_TASKS_ENABLED=1 or create TaskQueue(enabled=True)"
            )

    async def add_task(
        self,
        name: str,
        category: str | None = None,
        priority: TaskPriority | int = TaskPriority.NORMAL,
        max_retries: int = 0,
        *args: Any,
        delay: float | None = None,
        eta: datetime | None = None,
        timeout: float | None = None,
        dedup_key: str | None = None,
        connection: Any = None,
        **kwargs: Any,
    ) -> str:
        """Store a task for the workers of its category and return its id (a UUID4 string).

        It returns once the task is durable (committed). ``args``/``kwargs`` travel as JSON (msgspec).

        Args:
            name: a registered task.
            category: defaults to the category the task was registered in; another one is an error.
            priority: :class:`TaskPriority` (higher first; FIFO within a priority).
            max_retries: retries after the first failed attempt before the task is dead.
            delay: run no sooner than this many seconds from now.
            eta: run no sooner than this time (an aware datetime, or a naive one in UTC).
            timeout: seconds one attempt may run (a longer one fails with ``TimeoutError`` and is retried).
            dedup_key: while an unfinished task has this key, return its id instead of adding another.
            connection: an asyncpg connection: enqueue inside the caller's transaction (PostgreSQL only); the
                task exists, and workers hear of it, only if that transaction commits.

        Raises:
            RuntimeError: tasks are disabled.
            TaskNotRegistered: no task ``name`` (a ``KeyError`` and a ``ValueError``).
            ValueError: ``category`` differs from the registered one; ``max_retries``, ``delay`` or ``timeout``
                negative; both ``delay`` and ``eta``.
            TypeError: an argument is not JSON-encodable.
        """
        self._require_enabled()
        registered = self._registered.get(name)
        if registered is None:
            raise TaskNotRegistered(f"no task registered as {name!r}")
        if category is None:
            category = registered.category
        elif category != registered.category:
            raise ValueError(f"task {name!r} is registered in category {registered.category!r}, not {category!r}")
        priority = priority if isinstance(priority, TaskPriority) else TaskPriority(priority)
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, not {max_retries!r}")
        if delay is not None and eta is not None:
            raise ValueError("give delay= or eta=, not both")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0 seconds")
        timeout = registered.timeout if timeout is None else timeout
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        try:
            encode_json(list(args))
            encode_json(kwargs)
        except TypeError as exc:
            raise TypeError(f"task {name!r}: arguments must be JSON-encodable ({exc})") from exc
        run_at = None
        if eta is not None:
            run_at = eta.astimezone(UTC).replace(tzinfo=None) if eta.tzinfo else eta
        task = TaskInfo(
            id=str(uuid.uuid4()),
            name=name,
            category=category,
            priority=priority,
            status=TaskStatus.PENDING,
            created_at=utcnow(),
            max_retries=max_retries,
            args=args,
            kwargs=kwargs,
            run_at=run_at,
            timeout=timeout,
            dedup_key=dedup_key,
        )
        return await self.storage.enqueue(task, delay=delay, connection=connection)

    # -- inspection and control --------------------------------------------------------------------------

    async def get_task_info(self, task_id: str) -> TaskInfo | None:
        """The task's current record (this process's live copy while it runs here), or None (also when
        disabled)."""
        if not self.enabled:
            return None
        running = self._running.get(task_id)
        if running is not None:
            return running.task
        return await self.storage.fetch(task_id)

    async def get_task(self, task_id: str) -> TaskInfo | None:
        """Same as :meth:`get_task_info` (the API reference uses both names)."""
        return await self.get_task_info(task_id)

    async def get_task_status(self, task_id: str) -> str | None:
        """The task's status value (``"pending"``, ``"success"``...), or None when unknown."""
        info = await self.get_task_info(task_id)
        return None if info is None else info.status.value

    async def cancel_task(self, task_id: str) -> bool:
        """Cancel a waiting task at once, or stop a running one (its worker cancels it within a heartbeat; a sync
        function's thread cannot be interrupted, its result is then discarded).

        Returns:
            True when the task was waiting or running; False when finished, unknown, or tasks are disabled.
        """
        if not self.enabled:
            return False
        if not await self.storage.cancel(task_id):
            return False
        running = self._running.get(task_id)
        if running is not None:
            self._stop(running, "cancel")
        return True

    async def retry_task(self, task_id: str) -> bool:
        """Put a dead (``FAILED``) task back to ``PENDING`` with a fresh set of ``max_retries + 1`` attempts.

        Returns:
            False when the task is not ``FAILED``, is unknown, or tasks are disabled.
        """
        if not self.enabled:
            return False
        return bool(await self.storage.requeue(task_id))

    async def get_task_stats(self) -> dict[str, Any]:
        """Counts over the whole store.

        Returns:
            ``total``, ``by_status`` (status value → count), ``by_category``, ``running`` (tasks running in this
            process) and ``queued`` (``PENDING`` and ``RETRY`` tasks in the store).
        """
        stats: dict[str, Any] = {"total": 0, "by_status": {}, "by_category": {}, "running": 0, "queued": 0}
        if not self.enabled:
            return stats
        for status, category, count in await self.storage.counts():
            stats["total"] += count
            stats["by_status"][status] = stats["by_status"].get(status, 0) + count
            stats["by_category"][category] = stats["by_category"].get(category, 0) + count
            if status in (TaskStatus.PENDING.value, TaskStatus.RETRY.value):
                stats["queued"] += count
        stats["running"] = len(self._running)
        return stats

    def on_dead(self, callback: Callable[[TaskInfo], Awaitable[None]]) -> Callable[[TaskInfo], Awaitable[None]]:
        """Register ``await callback(task)`` for every task this process moves to the dead state; returns it."""
        self._dead_callbacks.append(callback)
        return callback

    # -- workers -----------------------------------------------------------------------------------------

    async def start_workers(self, category: str = "default", worker_count: int = 1) -> None:
        """Run up to ``worker_count`` more tasks of ``category`` at a time in this process.

        Workers claim the highest-priority, oldest runnable tasks, wake up when a task is added (LISTEN/NOTIFY on
        PostgreSQL) and otherwise poll every ``poll_interval``. Does nothing when tasks are disabled.
        """
        if not self.enabled:
            logger.warning("start_workers(%r) ignored: background tasks are disabled", category)
            return
        if worker_count < 1:
            raise ValueError("worker_count must be >= 1")
        if self.shutdown_event.is_set():
            self.shutdown_event = asyncio.Event()  # started again after a shutdown
        if not self._listening:
            self.storage.add_listener(self._on_notify)
            self._listening = True
        await self.storage.open()
        pool = self._pools.get(category)
        if pool is None:
            pool = self._pools[category] = _Pool(category)
        pool.size += worker_count
        if pool.loop_task is None or pool.loop_task.done():
            pool.loop_task = asyncio.create_task(self._fetch_loop(pool), name=f"gobstopper-tasks-{category}")
            self.workers[category] = [pool.loop_task]
        pool.wake.set()
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="gobstopper-tasks-heartbeat")

    def _on_notify(self, category: str) -> None:
        pool = self._pools.get(category)
        if pool is not None:
            pool.wake.set()

    async def _fetch_loop(self, pool: _Pool) -> None:
        storage = self.storage
        while not self.shutdown_event.is_set():
            free = pool.size - len(pool.running)
            if free <= 0:
                pool.wake.clear()
                await pool.wake.wait()
                continue
            pool.wake.clear()
            try:
                claimed = await storage.claim(pool.category, self.owner, self.lease_seconds, free)
            except Exception:
                logger.exception("claiming %r tasks failed; retrying in %ss", pool.category, self.poll_interval)
                await asyncio.sleep(self.poll_interval)
                continue
            for task in claimed:
                running = _Running(task, self.owner, self, claimed_at=time.monotonic())
                self._running[task.id] = running
                self.running_tasks[task.id] = task
                future = asyncio.create_task(self._run(running), name=f"gobstopper-task-{task.id}")
                running.future = future
                pool.running.add(future)
                future.add_done_callback(functools.partial(self._slot_freed, pool))
            if not claimed:
                try:
                    await asyncio.wait_for(pool.wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    def _slot_freed(self, pool: _Pool, future: asyncio.Task[Any]) -> None:
        pool.running.discard(future)
        pool.wake.set()

    async def _heartbeat_loop(self) -> None:
        storage = self.storage
        interval = self.lease_seconds / 3
        while not self.shutdown_event.is_set():
            await asyncio.sleep(interval)
            try:
                for category in await storage.reap():
                    self._on_notify(category)
                started = time.monotonic()
                held, cancel = await storage.renew(self.owner, self.lease_seconds)
            except Exception:
                logger.exception("renewing task leases failed")
                continue
            for task_id, running in list(self._running.items()):
                if task_id in cancel:
                    self._stop(running, "cancel")
                elif task_id not in held and running.claimed_at < started and running.stop_reason is None:
                    logger.warning("task %s: lease lost (another worker may run it); stopping this attempt", task_id)
                    self._stop(running, "lost")

    def _stop(self, running: _Running, reason: str) -> None:
        if running.future is not None and not running.future.done() and running.stop_reason is None:
            running.stop_reason = reason
            running.future.cancel()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.retry_cap, self.retry_base * 2 ** max(0, attempt - 1))
        return delay * (0.5 + self._random.random() / 2)

    async def _run(self, running: _Running) -> None:
        task = running.task
        storage = self.storage
        try:
            if task.cancel_requested:
                await storage.finish(task.id, self.owner, TaskStatus.CANCELLED, error="cancelled")
                return
            if task.attempts > task.max_attempts:
                # Attempts are counted at claim: the previous holder of the last attempt died without finishing.
                error = f"LeaseExpired: the worker running attempt {task.attempts - 1} of {task.max_attempts} was lost"
                await self._finish_failed(task, error, dead=True)
                return
            await self._execute(running)
        except asyncio.CancelledError:
            if running.stop_reason is None:  # cancelled from outside (event loop closing): give the task back
                await asyncio.shield(storage.release(task.id, self.owner))
                raise
        except Exception:
            logger.exception("task %s (%s): bookkeeping failed; its lease will expire", task.id, task.name)
        finally:
            self._running.pop(task.id, None)
            self.running_tasks.pop(task.id, None)

    async def _execute(self, running: _Running) -> None:
        task = running.task
        storage = self.storage
        registered = self._registered.get(task.name)
        if registered is None:
            error = f"TaskNotRegistered: no task {task.name!r} in this worker"
            await self._finish_failed(task, error, dead=task.attempts >= task.max_attempts)
            return
        started = time.monotonic()
        token = _current.set(running)
        try:
            if registered.is_async:
                call: Awaitable[Any] = registered.func(*task.args, **task.kwargs)
            else:
                call = asyncio.to_thread(registered.func, *task.args, **task.kwargs)
            if task.timeout is not None:
                result = await asyncio.wait_for(call, task.timeout)
            else:
                result = await call
        except asyncio.CancelledError:
            elapsed = time.monotonic() - started
            if running.stop_reason == "cancel":
                await storage.finish(task.id, self.owner, TaskStatus.CANCELLED, error="cancelled", elapsed=elapsed)
            elif running.stop_reason == "shutdown":
                await storage.release(task.id, self.owner)
            elif running.stop_reason is None:
                raise
            return
        except TimeoutError:
            error = f"TimeoutError: attempt exceeded its {task.timeout:g} s timeout"
            await self._finish_failed(task, error, elapsed=time.monotonic() - started)
            return
        except Exception as exc:
            logger.warning("task %s (%s) attempt %d failed: %s", task.id, task.name, task.attempts, _error_text(exc))
            await self._finish_failed(task, _error_text(exc), elapsed=time.monotonic() - started)
            return
        finally:
            _current.reset(token)
        elapsed = time.monotonic() - started
        encoded: str | None = None
        note: str | None = None
        try:
            encoded = None if result is None else encode_json(result)
        except TypeError as exc:
            note = f"result not stored, not JSON-encodable: {exc}"
        if not await storage.finish(
            task.id, self.owner, TaskStatus.SUCCESS, result=encoded, error=note, elapsed=elapsed
        ):
            logger.warning("task %s finished after its lease was lost; another attempt owns it", task.id)

    async def _finish_failed(
        self, task: TaskInfo, error: str, *, elapsed: float = 0.0, dead: bool | None = None
    ) -> None:
        if dead is None:
            dead = task.attempts >= task.max_attempts
        storage = self.storage
        if dead:
            task.status, task.error = TaskStatus.FAILED, error
            for callback in self._dead_callbacks:  # before the state changes: a crash here retries, never loses
                try:
                    await callback(task)
                except Exception:
                    logger.exception("dead-task callback %r failed for %s", callback, task.id)
            await storage.finish(task.id, self.owner, TaskStatus.FAILED, error=error, elapsed=elapsed)
        else:
            delay = self._backoff(task.attempts)
            await storage.finish(task.id, self.owner, TaskStatus.RETRY, error=error, elapsed=elapsed, retry_delay=delay)

    async def shutdown(self) -> None:
        """Stop claiming, give running tasks up to ``shutdown_timeout`` seconds, then cancel the rest and release
        their leases (they run again elsewhere, their attempt not counted), and close the storage. Idempotent."""
        if not self.enabled:
            return
        self.shutdown_event.set()
        loops = [pool.loop_task for pool in self._pools.values() if pool.loop_task is not None]
        for loop_task in loops:
            loop_task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        futures = [r.future for r in self._running.values() if r.future is not None]
        if futures:
            _, pending = await asyncio.wait(futures, timeout=self.shutdown_timeout)
            for running in list(self._running.values()):
                if running.future in pending:
                    self._stop(running, "shutdown")
            await asyncio.gather(*pending, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        self._pools.clear()
        self.workers.clear()
        if self._storage is not None:
            if self._listening:
                self._storage.remove_listener(self._on_notify)
                self._listening = False
            await self._storage.close()
