"""Task-queue benchmark: tasks per second from enqueue to done, Gobstopper against Procrastinate, on PostgreSQL.

For each worker-process count (1 and 4), each system runs the same no-op task: its worker processes start (each
running up to ``--concurrency`` tasks at a time), then a client enqueues ``--tasks`` tasks (50 in flight) and waits
until all are done. Rounds alternate (Gobstopper, Procrastinate, Procrastinate, Gobstopper, ...) on the same server
in the same run; the headline is the ratio of the median tasks/s (target >= 1.0, docs/performance.md §2).
Absolute figures are printed too and mean nothing across runs on a shared machine.

Procrastinate (https://procrastinate.readthedocs.io) is not a dependency of the project: it is installed from
PyPI into its own virtualenv, ``benchmarks/.tasks-peer-venv`` (git-ignored), on first use.

Usage::

    .venv/bin/python benchmarks/tasks.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/tasks.py --smoke          # 200 tasks, 1 round: a quick check, not a measurement

The DSN defaults to ``GOBSTOPPER_TEST_POSTGRES_DSN`` (``eval "$(scripts/services start DIR)"`` provides one). The
benchmark works in its own database, ``gobstopper_bench_tasks``, created on that server when missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APPS = HERE / "tasks_apps"
PEER_VENV = HERE / ".tasks-peer-venv"
PEER_REQUIREMENTS = ["procrastinate==3.10.0", "psycopg[binary]>=3.2"]
DATABASE = "gobstopper_bench_tasks"


def peer_python() -> str:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"# creating {PEER_VENV} ({' '.join(PEER_REQUIREMENTS)})", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    return str(python)


def bench_dsn(dsn: str) -> str:
    """Create the benchmark's database on the server (when missing) and return its DSN."""

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await conn.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            await conn.close()

    asyncio.run(create())
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + DATABASE))


class System:
    def __init__(self, name: str, python: str, driver: str) -> None:
        self.name = name
        self.python = python
        self.driver = str(APPS / driver)

    def run(self, mode: str, dsn: str, arg: int) -> str:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")} if self.name == "gobstopper" else dict(os.environ)
        done = subprocess.run(
            [self.python, self.driver, mode, dsn, str(arg)], env=env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} {mode} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def measure(self, dsn: str, workers: int, concurrency: int, tasks: int) -> float:
        """Tasks per second, enqueue to done, with ``workers`` worker processes."""
        self.run("reset", dsn, 0)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")} if self.name == "gobstopper" else dict(os.environ)
        procs = [
            subprocess.Popen(
                [self.python, self.driver, "worker", dsn, str(concurrency)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(workers)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{self.name} worker did not start")
            seconds = json.loads(self.run("enqueue", dsn, tasks))["seconds"]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        return tasks / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("GOBSTOPPER_TEST_POSTGRES_DSN"))
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10, help="tasks at a time per worker process")
    parser.add_argument("--workers", default="1,4", help="worker-process counts to measure")
    parser.add_argument("--smoke", action="store_true", help="200 tasks, 1 round")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("give --dsn or set GOBSTOPPER_TEST_POSTGRES_DSN")
    if args.smoke:
        args.tasks, args.rounds = 200, 1
    dsn = bench_dsn(args.dsn)
    ours = System("gobstopper", sys.executable, "gobstopper_driver.py")
    peer = System("procrastinate", peer_python(), "procrastinate_driver.py")
    print(
        f"gobstopper tasks benchmark v1: {args.tasks} no-op tasks, {args.rounds} round(s), "
        f"concurrency {args.concurrency} per process, PostgreSQL database {DATABASE}"
    )
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        samples: dict[str, list[float]] = {"gobstopper": [], "procrastinate": []}
        for round_no in range(args.rounds):
            order = (ours, peer) if round_no % 2 == 0 else (peer, ours)
            for system in order:
                samples[system.name].append(system.measure(dsn, workers, args.concurrency, args.tasks))
        a = statistics.median(samples["gobstopper"])
        b = statistics.median(samples["procrastinate"])
        results.append({"workers": workers, "gobstopper": a, "procrastinate": b, "ratio": a / b, "samples": samples})
    print(f"{'worker processes':>16}  {'gobstopper tasks/s':>18}  {'procrastinate tasks/s':>21}  {'ratio':>6}  target")
    for row in results:
        verdict = "ok" if row["ratio"] >= 1.0 else "BELOW"
        print(
            f"{row['workers']:>16}  {row['gobstopper']:>18.0f}  {row['procrastinate']:>21.0f}  "
            f"{row['ratio']:>6.2f}  >= 1.00 {verdict}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"# {time.perf_counter() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
