"""One suite for the three task backends (memory, DuckDB, real PostgreSQL): the state machine of
``gobstopper.tasks._backend`` and the event tables, plus the queue running end to end on each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _services import service_url

from gobstopper.tasks import MemoryTaskStorage, TaskInfo, TaskPriority, TaskQueue, TaskStatus, TaskStorage
from gobstopper.tasks._backend import DeadLetter, EventRecord
from gobstopper.tasks.models import utcnow

pytestmark = pytest.mark.timeout(60)

BACKENDS = ["memory", "duckdb", "postgres"]


def new_task(name: str = "job", category: str = "c", **fields: Any) -> TaskInfo:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": name,
        "category": category,
        "priority": TaskPriority.NORMAL,
        "status": TaskStatus.PENDING,
        "created_at": utcnow(),
    }
    values.update(fields)
    return TaskInfo(**values)


def make_storage(kind: str, tmp_path: Path) -> Any:
    if kind == "memory":
        return MemoryTaskStorage()
    if kind == "duckdb":
        return TaskStorage(tmp_path / "tasks.duckdb")
    from gobstopper.tasks.postgres import PostgresTaskStorage

    return PostgresTaskStorage(service_url("GOBSTOPPER_TEST_POSTGRES_DSN"), prefix=f"t_{uuid.uuid4().hex[:10]}")


async def drop(storage: Any) -> None:
    if storage.__class__.__name__ == "PostgresTaskStorage":
        import asyncpg

        conn = await asyncpg.connect(storage.dsn)
        try:
            for table in (storage.tasks_table, storage.events_table, storage.dead_table):
                await conn.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await conn.close()


def run(kind: str, tmp_path: Path, scenario: Callable[[Any], Any]) -> None:
    async def main() -> None:
        storage = make_storage(kind, tmp_path)
        await storage.open()
        try:
            await scenario(storage)
        finally:
            await storage.close()
            await drop(storage)

    asyncio.run(main())


@pytest.mark.parametrize("kind", BACKENDS)
def test_claim_order_leases_finish_and_release(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        low = new_task(priority=TaskPriority.LOW)
        first = new_task()
        second = new_task()
        high = new_task(priority=TaskPriority.HIGH)
        other = new_task(category="other")
        delayed = new_task()
        for task in (low, first, second, high, other):
            assert await storage.enqueue(task) == task.id
        await storage.enqueue(delayed, delay=3600)
        claimed = await storage.claim("c", "w1", 30, 3)
        assert [t.id for t in claimed] == [high.id, first.id, second.id]
        assert all(t.status is TaskStatus.STARTED and t.attempts == 1 and t.lease_owner == "w1" for t in claimed)
        assert [t.id for t in await storage.claim("c", "w2", 30, 10)] == [low.id]  # not the delayed one
        assert await storage.claim("c", "w2", 30, 10) == []
        held, cancel = await storage.renew("w1", 30)
        assert held == {high.id, first.id, second.id} and cancel == set()
        assert await storage.finish(high.id, "w2", TaskStatus.SUCCESS) is False  # not its lease
        assert await storage.finish(high.id, "w1", TaskStatus.SUCCESS, result='{"ok": true}', elapsed=0.5)
        done = await storage.fetch(high.id)
        assert done.status is TaskStatus.SUCCESS and done.result == {"ok": True} and done.progress == 100.0
        assert done.completed_at is not None and done.lease_owner is None and done.elapsed_seconds == 0.5
        assert await storage.finish(first.id, "w1", TaskStatus.RETRY, error="E: x", retry_delay=3600)
        retry = await storage.fetch(first.id)
        assert retry.status is TaskStatus.RETRY and retry.error == "E: x" and retry.run_at > utcnow()
        assert await storage.release(second.id, "w1") is True
        released = await storage.fetch(second.id)
        assert released.status is TaskStatus.PENDING and released.attempts == 0 and released.lease_owner is None
        assert await storage.release(second.id, "w1") is False

    run(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", BACKENDS)
def test_expired_leases_are_reaped_and_attempts_keep_counting(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        task = new_task(max_retries=2)
        await storage.enqueue(task)
        [claimed] = await storage.claim("c", "dead", 0.05, 1)
        await asyncio.sleep(0.3)
        assert await storage.reap() == ["c"]
        [again] = await storage.claim("c", "alive", 30, 1)
        assert again.id == task.id and again.attempts == 2 and again.retry_count == 1
        assert await storage.reap() == []

    run(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", BACKENDS)
def test_cancel_requeue_dedup_progress_and_purge(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        waiting, running, dead = new_task(), new_task(), new_task(dedup_key="k")
        for task in (waiting, running, dead):
            await storage.enqueue(task)
        assert await storage.enqueue(new_task(dedup_key="k")) == dead.id
        assert await storage.cancel(waiting.id) is True
        assert (await storage.fetch(waiting.id)).status is TaskStatus.CANCELLED
        claimed = await storage.claim("c", "w", 30, 10)
        assert {t.id for t in claimed} == {running.id, dead.id}
        assert await storage.cancel(running.id) is True
        assert (await storage.fetch(running.id)).cancel_requested is True
        _, cancel = await storage.renew("w", 30)
        assert cancel == {running.id}
        await storage.set_progress(running.id, "w", 50.0, "half")
        info = await storage.fetch(running.id)
        assert (info.progress, info.progress_message) == (50.0, "half")
        assert await storage.finish(dead.id, "w", TaskStatus.FAILED, error="Boom: x")
        assert await storage.enqueue(new_task(dedup_key="k")) != dead.id  # the key is free again
        assert await storage.requeue(dead.id) is False  # ...and taken by the new task
        assert await storage.requeue(running.id) is False  # not failed
        assert await storage.cancel(dead.id) is False  # finished
        counts = {(s, c): n for s, c, n in await storage.counts()}
        assert counts[("failed", "c")] == 1 and counts[("cancelled", "c")] == 1 and counts[("started", "c")] == 1
        assert [t.id for t in await storage.query(status=TaskStatus.FAILED)] == [dead.id]
        assert await storage.purge(utcnow() + timedelta(seconds=5)) == 2  # the failed and the cancelled one
        assert await storage.fetch(waiting.id) is None and await storage.fetch(running.id) is not None

    run(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", BACKENDS)
def test_requeue_gives_a_dead_task_a_fresh_budget(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        task = new_task(max_retries=0)
        await storage.enqueue(task)
        await storage.claim("c", "w", 30, 1)
        await storage.finish(task.id, "w", TaskStatus.FAILED, error="E")
        assert await storage.requeue(task.id) is True
        info = await storage.fetch(task.id)
        assert info.status is TaskStatus.PENDING and info.attempts == 0 and info.error is None

    run(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", BACKENDS)
def test_events_and_dead_letters(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        t0 = utcnow()
        first = EventRecord(id="e1", type="user.created", source="/t", subject=None, time=t0, data='{"id": 1}')
        second = EventRecord(
            id="e2", type="user.deleted", source="/t", subject="1", time=t0 + timedelta(seconds=1), data="null"
        )
        delivery = new_task(name="gobstopper.eda.deliver", category="events")
        await storage.append_event(first, [delivery])
        await storage.append_event(second, [])
        await storage.append_event(first, [])  # the same event again is a no-op
        assert await storage.get_event("e1") == first
        assert await storage.get_event("nope") is None
        assert [e.id for e in await storage.list_events()] == ["e1", "e2"]
        assert [e.id for e in await storage.list_events(type="user.deleted")] == ["e2"]
        assert [e.id for e in await storage.list_events(since=t0 + timedelta(milliseconds=500))] == ["e2"]
        assert (await storage.fetch(delivery.id)).status is TaskStatus.PENDING
        letter = DeadLetter(
            event_id="e1",
            handler="h",
            event_type="user.created",
            task_id=delivery.id,
            error="E",
            attempts=3,
            failed_at=t0,
        )
        await storage.put_dead_letter(letter)
        await storage.put_dead_letter(letter)  # replaced, not duplicated
        assert await storage.list_dead_letters() == [letter]
        assert await storage.list_dead_letters(handler="other") == []
        assert await storage.delete_dead_letter("e1", "h") is True
        assert await storage.delete_dead_letter("e1", "h") is False

    run(kind, tmp_path, scenario)


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_queue_end_to_end(kind: str, tmp_path: Path) -> None:
    async def scenario(storage: Any) -> None:
        queue = TaskQueue(enabled=True, storage_factory=lambda: storage, poll_interval=0.05, retry_base=0.01)
        seen: list[int] = []

        @queue.register_task("square", category="math")
        def square(n: int) -> int:
            seen.append(n)
            return n * n

        @queue.register_task("fail", category="math")
        async def fail() -> None:
            raise ValueError("bad input")

        await queue.start_workers("math", worker_count=3)
        ids = [await queue.add_task("square", "math", TaskPriority.NORMAL, 0, n) for n in range(30)]
        dead = await queue.add_task("fail", max_retries=1)

        async def all_done() -> bool:
            infos = [await queue.get_task_info(i) for i in [*ids, dead]]
            return all(i is not None and i.is_completed for i in infos)

        for _ in range(400):
            if await all_done():
                break
            await asyncio.sleep(0.025)
        results = [(await queue.get_task_info(i)).result for i in ids]
        assert results == [n * n for n in range(30)] and sorted(seen) == list(range(30))
        info = await queue.get_task_info(dead)
        assert info.status is TaskStatus.FAILED and info.error == "ValueError: bad input" and info.attempts == 2
        await queue.shutdown()

    run(kind, tmp_path, scenario)
