"""Real worker processes (``gobstopper run-tasks``) on real PostgreSQL and on a DuckDB file: exactly once when
nothing fails, a poison task dead with its error, kill -9 mid-task then completion after the lease (PostgreSQL) or
after a restart (DuckDB), the second-process error on DuckDB, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _services import service_url

from gobstopper.tasks import TaskQueue, TaskStatus, TaskStorage
from gobstopper.tasks._backend import TaskStorageLocked

pytestmark = pytest.mark.timeout(120)

APP_DIR = Path(__file__).resolve().parent / "task_apps"
ROOT = APP_DIR.parent.parent


class Worker:
    """One ``gobstopper run-tasks worker_app:app`` process."""

    def __init__(self, env: dict[str, str], categories: str, log: Path) -> None:
        self.log = log
        self.stderr = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run-tasks", "worker_app:app", "-c", categories, "-w", "8"],
            cwd=APP_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.stderr,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_running(self, timeout: float = 30) -> None:
        wait_until(lambda: b"running tasks" in self.log.read_bytes() or self.process.poll() is not None, timeout)
        assert self.process.poll() is None, self.log.read_text()

    def terminate(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.stderr.close()

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.stderr.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def runs(path: Path) -> list[tuple[str, str, int, int]]:
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines() if line]
    return [(event, task_id, int(attempt), int(pid)) for event, task_id, attempt, pid in lines]


def client_queue(storage_factory: Callable[[], Any]) -> TaskQueue:
    """A queue that only enqueues and reads (the functions run in the workers)."""
    queue = TaskQueue(enabled=True, storage_factory=storage_factory)
    for name, category in (("noop", "bulk"), ("hang", "slow"), ("poison", "bulk")):
        queue.register_task(name, category)(lambda *a, **k: None)
    return queue


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str], categories: str) -> Worker:
        worker = Worker(env, categories, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


def worker_env(database: str, runs_file: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOBSTOPPER_TASKS_DATABASE=database,
        TASKS_RUNS_FILE=str(runs_file),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])),
        **extra,
    )
    return env


# -- PostgreSQL ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[str, str]]:
    dsn = service_url("GOBSTOPPER_TEST_POSTGRES_DSN")
    prefix = f"p_{uuid.uuid4().hex[:10]}"
    yield dsn, prefix

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            for table in ("tasks", "events", "dead_letters"):
                await conn.execute(f"DROP TABLE IF EXISTS {prefix}_{table}")
        finally:
            await conn.close()

    asyncio.run(drop())


def pg_queue(dsn: str, prefix: str) -> TaskQueue:
    from gobstopper.tasks.postgres import PostgresTaskStorage

    return client_queue(lambda: PostgresTaskStorage(dsn, prefix=prefix))


def test_two_worker_processes_run_2000_tasks_exactly_once_and_a_poison_task_dies(
    pg: tuple[str, str], tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    dsn, prefix = pg
    runs_file = tmp_path / "runs.log"
    env = worker_env(dsn, runs_file, TASKS_PREFIX=prefix)
    pool = [workers(env, "bulk"), workers(env, "bulk")]
    for worker in pool:
        worker.wait_running()

    async def scenario() -> tuple[list[str], str, dict[str, int], Any]:
        queue = pg_queue(dsn, prefix)
        poison = await queue.add_task("poison", max_retries=2)
        ids: list[str] = []
        for start in range(0, 2000, 100):
            ids += await asyncio.gather(*(queue.add_task("noop", "bulk", 2, 0, n) for n in range(start, start + 100)))
        deadline = time.monotonic() + 90
        while True:
            counts = {s: n for s, _, n in await queue.storage.counts()}
            if counts.get("success") == 2000 and counts.get("failed") == 1:
                break
            assert time.monotonic() < deadline, counts
            await asyncio.sleep(0.2)
        dead = await queue.get_task_info(poison)
        sample = await queue.get_task_info(ids[1234])
        await queue.shutdown()
        return ids, poison, counts, (dead, sample)

    ids, poison, counts, (dead, sample) = asyncio.run(scenario())
    assert counts == {"success": 2000, "failed": 1}
    assert sample.result == 1234 and sample.attempts == 1
    assert dead.status is TaskStatus.FAILED and dead.error == "RuntimeError: poison pill" and dead.attempts == 3
    recorded = runs(runs_file)
    noop_runs = Counter(task_id for event, task_id, _, _ in recorded if task_id != poison)
    assert set(noop_runs) == set(ids) and set(noop_runs.values()) == {1}  # every task, exactly once
    assert sorted(attempt for _, task_id, attempt, _ in recorded if task_id == poison) == [1, 2, 3]
    assert {pid for *_, pid in recorded} == {w.pid for w in pool}  # both processes worked
    assert [w.terminate() for w in pool] == [0, 0]  # SIGTERM: a clean stop


def test_kill_9_mid_task_then_the_task_completes_after_its_lease(
    pg: tuple[str, str], tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    dsn, prefix = pg
    runs_file = tmp_path / "runs.log"
    env = worker_env(dsn, runs_file, TASKS_PREFIX=prefix, TASKS_LEASE="1.5")
    doomed = workers(env, "slow")
    doomed.wait_running()

    async def enqueue_hang() -> str:
        queue = pg_queue(dsn, prefix)
        task_id = await queue.add_task("hang", max_retries=1)
        await queue.shutdown()
        return task_id

    hang = asyncio.run(enqueue_hang())
    wait_until(lambda: ("start", hang, 1, doomed.pid) in runs(runs_file), 30)
    survivor = workers(env, "slow,bulk")
    survivor.wait_running()
    doomed.kill()

    async def rest() -> tuple[list[str], Any]:
        queue = pg_queue(dsn, prefix)
        ids = [await queue.add_task("noop", "bulk", 2, 0, n) for n in range(50)]
        deadline = time.monotonic() + 60
        while True:
            info = await queue.get_task_info(hang)
            counts = Counter()
            for status, _, n in await queue.storage.counts():
                counts[status] += n
            if info.is_completed and counts.get("success") == 51:
                break
            assert time.monotonic() < deadline, (info, counts)
            await asyncio.sleep(0.1)
        await queue.shutdown()
        return ids, info

    ids, info = asyncio.run(rest())
    assert info.status is TaskStatus.SUCCESS and info.result == "survived" and info.attempts == 2
    recorded = runs(runs_file)
    assert [r for r in recorded if r[1] == hang] == [
        ("start", hang, 1, doomed.pid),  # the killed attempt
        ("start", hang, 2, survivor.pid),
        ("end", hang, 2, survivor.pid),
    ]
    assert Counter(task_id for _, task_id, _, _ in recorded if task_id != hang) == Counter(ids)  # once each
    assert survivor.terminate() == 0


# -- DuckDB -------------------------------------------------------------------------------------------------


def test_duckdb_kill_9_then_restart_runs_the_interrupted_task_again(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    database = str(tmp_path / "tasks.duckdb")
    runs_file = tmp_path / "runs.log"
    env = worker_env(database, runs_file)

    async def enqueue() -> tuple[str, list[str]]:
        queue = client_queue(lambda: TaskStorage(database))
        hang = await queue.add_task("hang", max_retries=1)
        ids = [await queue.add_task("noop", "bulk", 2, 0, n) for n in range(10)]
        await queue.storage.close()
        return hang, ids

    hang, ids = asyncio.run(enqueue())
    first = workers(env, "slow")
    wait_until(lambda: ("start", hang, 1, first.pid) in runs(runs_file), 30)
    first.kill()
    second = workers(env, "slow,bulk")  # the restart: the file's tasks left STARTED run again at once
    wait_until(lambda: ("end", hang, 2, second.pid) in runs(runs_file) and len(runs(runs_file)) == 13, 30)
    assert second.terminate() == 0

    storage = TaskStorage(database)
    try:
        info = storage.get_task(hang)
        assert info is not None and info.status is TaskStatus.SUCCESS and info.attempts == 2
        assert info.result == "survived"
        assert {t.status for t in storage.get_tasks(category="bulk")} == {TaskStatus.SUCCESS}
    finally:
        storage.close_sync()
    recorded = runs(runs_file)
    assert Counter(task_id for _, task_id, _, _ in recorded if task_id != hang) == Counter(ids)


def test_a_second_process_on_the_same_duckdb_file_gets_a_clear_error(tmp_path: Path) -> None:
    database = tmp_path / "tasks.duckdb"
    owner = TaskStorage(database)
    owner.get_tasks()  # opens the file
    try:
        with pytest.raises(TaskStorageLocked, match="PostgreSQL"):
            TaskStorage(database).get_tasks()  # a second owner in this process
        result = subprocess.run(
            [sys.executable, "-m", "gobstopper", "tasks", "list", "--database", str(database)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert result.returncode == 1
        assert "already open in another process" in result.stderr
        assert "GOBSTOPPER_TASKS_DATABASE=postgresql://" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        owner.close_sync()
    TaskStorage(database).close_sync()  # free again once the owner closed it
