"""Gobstopper's side of benchmarks/tasks.py: ``worker DSN CONCURRENCY`` runs one worker process until SIGTERM;
``enqueue DSN N`` adds N no-op tasks and prints the seconds until all are done (JSON)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

from gobstopper.tasks import TaskQueue
from gobstopper.tasks.postgres import PostgresTaskStorage

PREFIX = "bench"


def make_queue(dsn: str) -> TaskQueue:
    queue = TaskQueue(enabled=True, storage_factory=lambda: PostgresTaskStorage(dsn, prefix=PREFIX), poll_interval=1.0)

    @queue.register_task("noop", category="bench")
    async def noop(n: int) -> None:
        return None

    return queue


async def worker(dsn: str, concurrency: int) -> None:
    queue = make_queue(dsn)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await queue.start_workers("bench", concurrency)
    print("ready", flush=True)
    await stop.wait()
    await queue.shutdown()


async def enqueue(dsn: str, n: int) -> None:
    queue = make_queue(dsn)
    storage = queue.storage
    await storage.open()
    started = time.perf_counter()
    for start in range(0, n, 50):
        await asyncio.gather(*(queue.add_task("noop", "bench", 2, 0, i) for i in range(start, min(n, start + 50))))
    while True:
        done = await storage._pool.fetchval(f"SELECT count(*) FROM {PREFIX}_tasks WHERE status = 'success'")
        if done >= n:
            break
        await asyncio.sleep(0.01)
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
    await storage.close()


async def reset(dsn: str) -> None:
    storage = PostgresTaskStorage(dsn, prefix=PREFIX)
    await storage.open()
    await storage._pool.execute(f"TRUNCATE {PREFIX}_tasks")
    await storage.close()


if __name__ == "__main__":
    mode, dsn, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run({"worker": worker, "enqueue": enqueue, "reset": lambda d, _: reset(d)}[mode](dsn, arg))
