"""The app the multi-process task tests run with ``gobstopper run-tasks`` (tests/test_tasks_processes.py).

Every attempt appends ``<event> <task id> <attempt> <pid>`` to ``$TASKS_RUNS_FILE`` (one small O_APPEND write, so
lines from several processes never interleave). Storage: ``$GOBSTOPPER_TASKS_DATABASE`` (a DuckDB file or a
PostgreSQL DSN, tables prefixed ``$TASKS_PREFIX``); lease ``$TASKS_LEASE`` seconds.
"""

from __future__ import annotations

import asyncio
import os

from gobstopper import Gobstopper
from gobstopper.tasks import TaskQueue, current_task
from gobstopper.tasks.queue import storage_from_url

DATABASE = os.environ["GOBSTOPPER_TASKS_DATABASE"]


def make_storage() -> object:
    if DATABASE.startswith("postgresql://"):
        from gobstopper.tasks.postgres import PostgresTaskStorage

        return PostgresTaskStorage(DATABASE, prefix=os.environ.get("TASKS_PREFIX", "gobstopper"))
    return storage_from_url(DATABASE)


app = Gobstopper(__name__)
app.task_queue = TaskQueue(
    enabled=True,
    storage_factory=make_storage,
    lease_seconds=float(os.environ.get("TASKS_LEASE", "30")),
    poll_interval=0.2,
    retry_base=0.05,
    shutdown_timeout=2,
)


def record(event: str) -> None:
    info = current_task()
    assert info is not None
    line = f"{event} {info.id} {info.attempts} {os.getpid()}\n".encode()
    fd = os.open(os.environ["TASKS_RUNS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@app.task("noop", category="bulk")
async def noop(n: int) -> int:
    record("run")
    return n


@app.task("hang", category="slow")
async def hang() -> str:
    """Hangs on its first attempt (the test kills the worker then), returns on the next."""
    info = current_task()
    record("start")
    if info is not None and info.attempts == 1:
        await asyncio.sleep(3600)
    record("end")
    return "survived"


@app.task("poison", category="bulk")
async def poison() -> None:
    record("run")
    raise RuntimeError("poison pill")
