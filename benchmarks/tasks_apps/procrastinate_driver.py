"""Procrastinate's side of benchmarks/tasks.py (run with its own virtualenv): the same no-op task, the same modes
as gobstopper_driver.py."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

import procrastinate


def make_app(dsn: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="noop", queue="bench")
    async def noop(n: int) -> None:
        return None

    return app


async def worker(dsn: str, concurrency: int) -> None:
    app = make_app(dsn)
    async with app.open_async():
        task = asyncio.create_task(app.run_worker_async(queues=["bench"], concurrency=concurrency, wait=True))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


async def enqueue(dsn: str, n: int) -> None:
    app = make_app(dsn)
    noop = app.tasks["noop"]
    async with app.open_async():
        started = time.perf_counter()
        for start in range(0, n, 50):
            await asyncio.gather(*(noop.defer_async(n=i) for i in range(start, min(n, start + 50))))
        pool = app.connector._async_pool
        while True:
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
                (done,) = await cur.fetchone()
            if done >= n:
                break
            await asyncio.sleep(0.01)
        print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)


async def reset(dsn: str) -> None:
    app = make_app(dsn)
    async with app.open_async():
        pool = app.connector._async_pool
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            (exists,) = await cur.fetchone()
        if not exists:
            await app.schema_manager.apply_schema_async()
        async with pool.connection() as conn:
            await conn.execute("TRUNCATE procrastinate_jobs CASCADE")


if __name__ == "__main__":
    mode, dsn, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run({"worker": worker, "enqueue": enqueue, "reset": lambda d, _: reset(d)}[mode](dsn, arg))
