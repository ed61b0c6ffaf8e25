"""The task queue's contract (docs/tasks.md) on the in-memory backend: ordering, retries and backoff, the dead
state, timeouts, cancellation, delays, deduplication, results, leases, graceful shutdown, and the app API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.tasks import (
    MemoryTaskStorage,
    TaskInfo,
    TaskNotRegistered,
    TaskPriority,
    TaskQueue,
    TaskStatus,
    current_task,
    set_progress,
)
from gobstopper.tasks.models import utcnow
from gobstopper.tasks.queue import NoopStorage, should_run_background_workers

pytestmark = pytest.mark.timeout(60)


class Clock:
    """A settable naive-UTC clock for the memory backend."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_queue(storage: MemoryTaskStorage | None = None, **options: Any) -> tuple[TaskQueue, MemoryTaskStorage]:
    storage = storage or MemoryTaskStorage()
    settings = {"poll_interval": 0.02, "lease_seconds": 3.0, "retry_base": 0.01, "retry_cap": 0.05}
    settings.update(options)
    return TaskQueue(enabled=True, storage_factory=lambda: storage, **settings), storage


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def finished(queue: TaskQueue, task_id: str, timeout: float = 10.0) -> TaskInfo:
    async def done() -> bool:
        info = await queue.get_task_info(task_id)
        return info is not None and info.is_completed

    await wait_for(done, timeout)
    info = await queue.get_task_info(task_id)
    assert info is not None
    return info


# -- off by default ----------------------------------------------------------------------------------------


def test_tasks_are_off_by_default_and_the_environment_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_TASKS_ENABLED", raising=False)
    monkeypatch.delenv("WOPR_TASKS_ENABLED", raising=False)
    queue = TaskQueue()
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "1")
    assert queue.enabled is False  # read at creation, not later
    assert isinstance(queue.storage, NoopStorage)
    assert TaskQueue().enabled is True
    monkeypatch.delenv("GOBSTOPPER_TASKS_ENABLED")
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "yes")  # the API reference's spelling
    assert TaskQueue().enabled is True

    @queue.register_task("noop")
    async def noop() -> None:
        return None

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="GOBSTOPPER_TASKS_ENABLED=1"):
            await queue.add_task("noop")
        await queue.start_workers("default")  # does nothing
        assert queue.workers == {}
        assert await queue.get_task_info("x") is None
        assert await queue.cancel_task("x") is False
        assert await queue.retry_task("x") is False
        assert (await queue.get_task_stats())["total"] == 0
        await queue.shutdown()

    asyncio.run(scenario())


def test_noop_storage_is_a_null_object() -> None:
    storage = NoopStorage()
    assert storage.save_task(None) is None  # type: ignore[arg-type]
    assert storage.get_task("x") is None
    assert storage.get_tasks(category="a") == []
    assert storage.cleanup_old_tasks(days=1) == 0


def test_should_run_background_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOBSTOPPER_FORCE_WORKERS", "WOPR_FORCE_WORKERS", "GRANIAN_WORKER_ID", "GUNICORN_WORKER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GOBSTOPPER_TASKS_DATABASE", raising=False)
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert should_run_background_workers() is True  # a lone process
    monkeypatch.setenv("GRANIAN_WORKER_ID", "2")
    assert should_run_background_workers() is False
    monkeypatch.setenv("GRANIAN_WORKER_ID", "0")
    assert should_run_background_workers() is True
    monkeypatch.setenv("GRANIAN_WORKER_ID", "1")
    monkeypatch.setenv("GOBSTOPPER_TASKS_DATABASE", "postgresql://db/tasks")
    assert should_run_background_workers() is True  # PostgreSQL: every process may work
    monkeypatch.setenv("GOBSTOPPER_FORCE_WORKERS", "0")
    assert should_run_background_workers() is False
    import gobstopper

    assert gobstopper.should_run_background_workers is should_run_background_workers


# -- registration and enqueueing -----------------------------------------------------------------------------


def test_add_task_checks_its_input() -> None:
    queue, _ = make_queue()

    @queue.register_task("mail", category="notifications")
    async def mail(to: str) -> str:
        return to

    async def scenario() -> None:
        with pytest.raises(TaskNotRegistered) as caught:
            await queue.add_task("nope")
        assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
        assert "no task registered as 'nope'" in str(caught.value)
        with pytest.raises(ValueError, match="registered in category 'notifications', not 'other'"):
            await queue.add_task("mail", "other")
        with pytest.raises(ValueError, match="max_retries"):
            await queue.add_task("mail", None, TaskPriority.NORMAL, -1)
        with pytest.raises(ValueError, match="not both"):
            await queue.add_task("mail", delay=1, eta=utcnow())
        with pytest.raises(ValueError, match="timeout"):
            await queue.add_task("mail", timeout=0)
        with pytest.raises(TypeError, match="JSON-encodable"):
            await queue.add_task("mail", to=object())
        # The category defaults to the registered one.
        task_id = await queue.add_task("mail", to="a@example.com")
        info = await queue.get_task_info(task_id)
        assert info is not None and info.category == "notifications" and info.status is TaskStatus.PENDING
        assert info.kwargs == {"to": "a@example.com"}

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="already registered in category"):
        queue.register_task("mail", category="elsewhere")(lambda: None)


def test_priority_first_then_fifo() -> None:
    queue, _ = make_queue()
    order: list[str] = []

    @queue.register_task("record")
    async def record(label: str) -> None:
        order.append(label)

    async def scenario() -> None:
        plan = [
            ("low", TaskPriority.LOW),
            ("normal-1", TaskPriority.NORMAL),
            ("high", TaskPriority.HIGH),
            ("normal-2", TaskPriority.NORMAL),
            ("critical", TaskPriority.CRITICAL),
            ("urgent", TaskPriority.URGENT),
            ("normal-3", 2),
        ]
        ids = [await queue.add_task("record", "default", priority, 0, label) for label, priority in plan]
        await queue.start_workers("default", worker_count=1)
        for task_id in ids:
            await finished(queue, task_id)
        await queue.shutdown()

    asyncio.run(scenario())
    assert TaskPriority.URGENT is TaskPriority.CRITICAL
    assert order == ["critical", "urgent", "high", "normal-1", "normal-2", "normal-3", "low"]


def test_sync_functions_run_in_a_thread_and_async_ones_on_the_loop() -> None:
    queue, _ = make_queue()
    threads: dict[str, int] = {}

    @queue.register_task("sync")
    def sync_task(x: int) -> dict[str, Any]:
        threads["sync"] = threading.get_ident()
        info = current_task()
        return {"double": x * 2, "name": info.name if info else None}

    @queue.register_task("async")
    async def async_task() -> str:
        threads["async"] = threading.get_ident()
        return "ok"

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        await queue.start_workers("default", 2)
        a = await finished(queue, await queue.add_task("sync", "default", TaskPriority.NORMAL, 0, 21))
        b = await finished(queue, await queue.add_task("async"))
        assert a.status is TaskStatus.SUCCESS and a.result == {"double": 42, "name": "sync"}
        assert b.result == "ok" and b.progress == 100.0 and b.error is None
        assert a.started_at is not None and a.completed_at is not None and a.completed_at >= a.started_at
        assert threads["async"] == loop_thread != threads["sync"]
        await queue.shutdown()

    asyncio.run(scenario())


# -- retries, backoff, the dead state ------------------------------------------------------------------------


def test_retries_back_off_exponentially_with_jitter_then_the_task_is_dead() -> None:
    clock = Clock()
    queue, storage = make_queue(MemoryTaskStorage(clock=clock), retry_base=10.0, retry_cap=25.0)
    calls: list[int] = []

    @queue.register_task("flaky")
    async def flaky() -> None:
        info = current_task()
        assert info is not None
        calls.append(info.attempts)
        raise ConnectionError(f"down (attempt {info.attempts})")

    async def scenario() -> None:
        task_id = await queue.add_task("flaky", max_retries=3)
        await queue.start_workers("default")
        expected_delays = [10.0, 20.0, 25.0]  # base * 2**(n-1), capped
        for attempt, delay in enumerate(expected_delays, start=1):
            await wait_for(lambda n=attempt: len(calls) == n)

            async def waiting() -> bool:
                info = await queue.get_task_info(task_id)
                return info is not None and info.status is TaskStatus.RETRY

            await wait_for(waiting)
            info = await queue.get_task_info(task_id)
            assert info is not None and info.error == f"ConnectionError: down (attempt {attempt})"
            assert info.run_at is not None
            wait = (info.run_at - clock.now).total_seconds()
            assert delay * 0.5 <= wait <= delay  # jitter in [0.5, 1.0)
            await asyncio.sleep(0.1)
            assert len(calls) == attempt  # nothing runs before run_at
            clock.advance(wait)
        info = await finished(queue, task_id)
        assert info.status is TaskStatus.FAILED  # dead, with its error
        assert info.error == "ConnectionError: down (attempt 4)"
        assert info.attempts == 4 and info.retry_count == 3 and calls == [1, 2, 3, 4]
        await queue.shutdown()

    asyncio.run(scenario())


def test_a_dead_task_can_be_retried_by_hand() -> None:
    queue, _ = make_queue()
    outcomes = iter([RuntimeError("first"), None])

    @queue.register_task("once")
    async def once() -> str:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return "second time lucky"

    async def scenario() -> None:
        await queue.start_workers("default")
        task_id = await queue.add_task("once")
        dead = await finished(queue, task_id)
        assert dead.status is TaskStatus.FAILED and dead.error == "RuntimeError: first"
        assert await queue.retry_task(task_id) is True
        done = await finished(queue, task_id)
        assert done.status is TaskStatus.SUCCESS and done.result == "second time lucky" and done.error is None
        assert done.attempts == 1  # a fresh budget
        assert await queue.retry_task(task_id) is False  # only dead tasks
        assert await queue.retry_task("unknown") is False
        await queue.shutdown()

    asyncio.run(scenario())


def test_a_timeout_fails_the_attempt() -> None:
    queue, _ = make_queue()

    @queue.register_task("slow", timeout=0.05)
    async def slow() -> None:
        await asyncio.sleep(30)

    async def scenario() -> None:
        await queue.start_workers("default")
        info = await finished(queue, await queue.add_task("slow", max_retries=1))
        assert info.status is TaskStatus.FAILED and info.attempts == 2
        assert info.error == "TimeoutError: attempt exceeded its 0.05 s timeout"
        override = await finished(queue, await queue.add_task("slow", timeout=0.02))
        assert override.error == "TimeoutError: attempt exceeded its 0.02 s timeout"
        await queue.shutdown()

    asyncio.run(scenario())


# -- cancellation, delays, deduplication, results -------------------------------------------------------------


def test_cancel_pending_and_running_tasks() -> None:
    queue, _ = make_queue()
    started = asyncio.Event()
    ran: list[str] = []

    @queue.register_task("block", category="a")
    async def block() -> None:
        started.set()
        await asyncio.sleep(30)

    @queue.register_task("later", category="b")
    async def later() -> None:
        ran.append("later")

    async def scenario() -> None:
        waiting = await queue.add_task("later")
        assert await queue.cancel_task(waiting) is True
        info = await queue.get_task_info(waiting)
        assert info is not None and info.status is TaskStatus.CANCELLED and info.completed_at is not None
        await queue.start_workers("b")
        await queue.start_workers("a")
        running = await queue.add_task("block")
        await asyncio.wait_for(started.wait(), 5)
        assert await queue.cancel_task(running) is True
        info = await finished(queue, running, timeout=5)
        assert info.status is TaskStatus.CANCELLED
        assert await queue.cancel_task(running) is False  # finished
        assert await queue.cancel_task("unknown") is False
        await asyncio.sleep(0.1)
        assert ran == []
        await queue.shutdown()

    asyncio.run(scenario())


def test_a_running_task_is_cancelled_through_the_storage_at_the_next_heartbeat() -> None:
    """Another process (or the CLI) cancels: only the stored flag tells the worker."""
    queue, storage = make_queue(lease_seconds=0.3)
    started = asyncio.Event()

    @queue.register_task("block")
    async def block() -> None:
        started.set()
        await asyncio.sleep(30)

    async def scenario() -> None:
        await queue.start_workers("default")
        task_id = await queue.add_task("block")
        await asyncio.wait_for(started.wait(), 5)
        assert await storage.cancel(task_id) is True
        info = await finished(queue, task_id, timeout=5)
        assert info.status is TaskStatus.CANCELLED
        await queue.shutdown()

    asyncio.run(scenario())


def test_delay_and_eta() -> None:
    clock = Clock()
    queue, _ = make_queue(MemoryTaskStorage(clock=clock))
    ran: list[str] = []

    @queue.register_task("mark")
    async def mark(label: str) -> None:
        ran.append(label)

    async def scenario() -> None:
        await queue.start_workers("default")
        delayed = await queue.add_task("mark", "default", TaskPriority.NORMAL, 0, "delay", delay=60)
        aware_eta = datetime(2030, 1, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))  # 12:30 UTC
        eta = await queue.add_task("mark", "default", TaskPriority.NORMAL, 0, "eta", eta=aware_eta)
        info = await queue.get_task_info(eta)
        assert info is not None and info.run_at == datetime(2030, 1, 1, 12, 30)
        await asyncio.sleep(0.1)
        assert ran == []
        clock.advance(61)
        await finished(queue, delayed)
        assert ran == ["delay"]
        clock.advance(30 * 60)
        await finished(queue, eta)
        assert ran == ["delay", "eta"]
        await queue.shutdown()

    asyncio.run(scenario())


def test_dedup_key_returns_the_unfinished_task() -> None:
    queue, _ = make_queue()

    @queue.register_task("report")
    async def report() -> str:
        return "done"

    async def scenario() -> None:
        first = await queue.add_task("report", dedup_key="report:42")
        assert await queue.add_task("report", dedup_key="report:42") == first
        assert await queue.add_task("report", dedup_key="report:43") != first
        await queue.start_workers("default")
        await finished(queue, first)
        again = await queue.add_task("report", dedup_key="report:42")  # the first one finished
        assert again != first
        await finished(queue, again)
        await queue.shutdown()

    asyncio.run(scenario())


def test_results_and_errors_are_stored() -> None:
    queue, _ = make_queue()

    @queue.register_task("opaque")
    async def opaque() -> object:
        return object()

    @queue.register_task("progress")
    async def progress() -> str:
        await set_progress(40, "reading")
        info = current_task()
        assert info is not None and info.progress == 40
        return "ok"

    async def scenario() -> None:
        await queue.start_workers("default")
        info = await finished(queue, await queue.add_task("opaque"))
        assert info.status is TaskStatus.SUCCESS and info.result is None
        assert info.error is not None and info.error.startswith("result not stored, not JSON-encodable")
        info = await finished(queue, await queue.add_task("progress"))
        assert info.result == "ok" and info.progress == 100.0 and info.progress_message == "reading"
        with pytest.raises(RuntimeError, match="inside a running task"):
            await set_progress(1)
        stats = await queue.get_task_stats()
        assert stats == {
            "total": 2,
            "by_status": {"success": 2},
            "by_category": {"default": 2},
            "running": 0,
            "queued": 0,
        }
        await queue.shutdown()

    asyncio.run(scenario())


# -- leases and shutdown ------------------------------------------------------------------------------------


def test_a_task_whose_worker_died_runs_again_after_its_lease() -> None:
    queue, storage = make_queue(lease_seconds=0.3)
    attempts: list[int] = []

    @queue.register_task("job")
    async def job() -> str:
        info = current_task()
        assert info is not None
        attempts.append(info.attempts)
        return "recovered"

    @queue.register_task("poison")
    async def poison() -> None:
        raise AssertionError("never reached: the last attempt was lost")

    async def scenario() -> None:
        job_id = await queue.add_task("job", max_retries=1)  # a lost worker uses up an attempt
        poison_id = await queue.add_task("poison", max_retries=0)
        # A worker elsewhere claims both, then dies without finishing.
        claimed = await storage.claim("default", "dead-host:1:x", 0.2, 10)
        assert {t.id for t in claimed} == {job_id, poison_id}
        await queue.start_workers("default")
        info = await finished(queue, job_id)
        assert info.status is TaskStatus.SUCCESS and info.attempts == 2 and attempts == [2]
        dead = await finished(queue, poison_id)
        assert dead.status is TaskStatus.FAILED and dead.attempts == 2
        assert dead.error == "LeaseExpired: the worker running attempt 1 of 1 was lost"
        # The dead worker's late completion is refused: the lease is no longer its own.
        assert await storage.finish(job_id, "dead-host:1:x", TaskStatus.SUCCESS, result='"late"') is False
        await queue.shutdown()

    asyncio.run(scenario())


def test_graceful_shutdown_finishes_or_releases_running_tasks() -> None:
    queue, storage = make_queue(shutdown_timeout=0.3)
    started: dict[str, asyncio.Event] = {"quick": asyncio.Event(), "stuck": asyncio.Event()}

    @queue.register_task("quick", category="q")
    async def quick() -> str:
        started["quick"].set()
        await asyncio.sleep(0.1)
        return "finished"

    @queue.register_task("stuck", category="s")
    async def stuck() -> None:
        started["stuck"].set()
        await asyncio.sleep(30)

    async def scenario() -> None:
        await queue.start_workers("q")
        await queue.start_workers("s")
        quick_id = await queue.add_task("quick")
        stuck_id = await queue.add_task("stuck")
        await asyncio.wait_for(asyncio.gather(started["quick"].wait(), started["stuck"].wait()), 5)
        await queue.shutdown()
        quick_info = await storage.fetch(quick_id)
        stuck_info = await storage.fetch(stuck_id)
        assert quick_info is not None and quick_info.status is TaskStatus.SUCCESS
        assert stuck_info is not None and stuck_info.status is TaskStatus.PENDING  # released for another worker
        assert stuck_info.attempts == 0 and stuck_info.lease_owner is None
        await queue.shutdown()  # idempotent

    asyncio.run(scenario())


# -- the app API ----------------------------------------------------------------------------------------------


def test_app_api_delegates_to_the_tasks_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "1")
    monkeypatch.setenv("GOBSTOPPER_TASKS_DATABASE", "memory")
    app = Gobstopper(__name__)
    assert "tasks" not in app.extensions  # created on first use

    @app.task(category="data")
    def process_upload(file_path: str) -> dict[str, int]:
        return {"rows": len(file_path)}

    assert app.extensions["tasks"].queue is app.task_queue
    assert app.task_queue.enabled and "process_upload" in app.task_queue.task_functions

    async def scenario() -> None:
        await app.start_task_workers("data", worker_count=2)
        task_id = await app.add_background_task("process_upload", file_path="abc.csv")
        info = await finished(app.task_queue, task_id)
        assert info.result == {"rows": 7}
        assert await app.task_queue.get_task_status(task_id) == "success"
        assert (await app.task_queue.get_task(task_id)) == info
        await app.shutdown()
        assert app.task_queue.workers == {}

    asyncio.run(scenario())
    replacement = TaskQueue(enabled=True, storage_factory=MemoryTaskStorage)
    app.task_queue = replacement
    assert app.task_queue is replacement
