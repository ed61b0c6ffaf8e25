"""``get_or_set`` hits, Gobstopper's cache against cashews, as ratios measured in the same run.

Scenarios (the value is a small dict, the key is always present, so every call is a hit):

* ``l1``: a memory hit. Gobstopper's :class:`~gobstopper.cache.Cache` with memory only against cashews' ``mem://``
  backend (docs/performance.md target: ratio >= 1.0).
* ``l2``: a Redis hit. Gobstopper's cache with its memory tier off (every call reads Redis) against cashews'
  ``redis://`` backend, both on the same Redis (cashews pickles values; Gobstopper encodes with msgspec).

Method (docs/performance.md): interleaved slices A, B, A, B... (``--pairs`` of each), each slice ``--calls`` sequential
awaited calls in one event loop; the figure per side is the median of its slices in calls per second, and the ratio
is Gobstopper's median over cashews' (> 1 means Gobstopper is faster).

Usage::

    .venv/bin/python benchmarks/cache.py                         # both scenarios, 9 pairs
    .venv/bin/python benchmarks/cache.py --redis redis://127.0.0.1:6379/0 --pairs 15
    .venv/bin/python benchmarks/cache.py --smoke                 # tiny: checks that it runs (numbers mean nothing)

Without ``--redis`` (or ``GOBSTOPPER_TEST_REDIS_URL``) a private redis-server is started on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gobstopper.cache import Cache, MemoryCacheStore, RedisCacheStore

VALUE = {"id": 42, "name": "Gobstopper", "tags": ["a", "b", "c"], "score": 3.5}
Slice = Callable[[int], Awaitable[float]]


async def factory() -> dict[str, Any]:
    return VALUE


def timed(call: Callable[[], Awaitable[Any]]) -> Slice:
    async def run(calls: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        return calls / (time.perf_counter() - start)

    return run


async def gobstopper_side(scenario: str, redis_url: str) -> tuple[Slice, Callable[[], Awaitable[None]]]:
    if scenario == "l1":
        cache = Cache()
    else:
        cache = Cache(
            l1=MemoryCacheStore(max_entries=0), l2=RedisCacheStore(url=redis_url, prefix=f"bench:{uuid.uuid4().hex}:")
        )
    assert await cache.get_or_set("key", factory, ttl=3600) == VALUE
    assert await cache.get_or_set("key", factory, ttl=3600) == VALUE
    return timed(lambda: cache.get_or_set("key", factory, ttl=3600)), cache.close


async def cashews_side(scenario: str, redis_url: str) -> tuple[Slice, Callable[[], Awaitable[None]]]:
    from cashews import Cache as CashewsCache

    cache = CashewsCache()
    if scenario == "l1":
        cache.setup("mem://")
    else:
        cache.setup(redis_url)
    key = f"bench:{uuid.uuid4().hex}:key"  # a fresh key in a shared Redis (cashews' prefix means a backend route)
    assert await cache.get_or_set(key, factory, expire=3600) == VALUE
    assert await cache.get_or_set(key, factory, expire=3600) == VALUE
    return timed(lambda: cache.get_or_set(key, factory, expire=3600)), cache.close


async def compare(scenario: str, redis_url: str, pairs: int, calls: int) -> dict[str, Any]:
    ours, close_ours = await gobstopper_side(scenario, redis_url)
    theirs, close_theirs = await cashews_side(scenario, redis_url)
    await ours(max(1, calls // 10))  # warm-up
    await theirs(max(1, calls // 10))
    a: list[float] = []
    b: list[float] = []
    for _ in range(pairs):
        a.append(await ours(calls))
        b.append(await theirs(calls))
    await close_ours()
    await close_theirs()
    ours_median, theirs_median = statistics.median(a), statistics.median(b)
    return {
        "scenario": scenario,
        "gobstopper_calls_per_s": ours_median,
        "cashews_calls_per_s": theirs_median,
        "ratio": ours_median / theirs_median,
        "slices": {"gobstopper": a, "cashews": b},
    }


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server: install it (scripts/setup) or pass --redis URL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("redis-server did not start") from None
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("GOBSTOPPER_TEST_REDIS_URL"), help="Redis URL to use")
    parser.add_argument("--pairs", type=int, default=9, help="A/B slice pairs per scenario (default 9)")
    parser.add_argument("--calls", type=int, default=0, help="calls per slice (default 50,000 for l1, 5,000 for l2)")
    parser.add_argument("--scenarios", default="l1,l2", help="a subset of l1,l2")
    parser.add_argument("--smoke", action="store_true", help="1 pair of 200 calls: checks that it runs")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    pairs = 1 if args.smoke else args.pairs
    results = []
    with redis_server(args.redis) as url:
        for scenario in args.scenarios.split(","):
            calls = 200 if args.smoke else (args.calls or (50_000 if scenario == "l1" else 5_000))
            results.append(asyncio.run(compare(scenario, url, pairs, calls)))
    print(f"cache get_or_set hits, {pairs} pair(s) per scenario; ratio = Gobstopper / cashews (> 1: faster)")
    print(f"{'scenario':<10}{'gobstopper/s':>16}{'cashews/s':>16}{'ratio':>8}")
    for r in results:
        print(
            f"{r['scenario']:<10}{r['gobstopper_calls_per_s']:>16,.0f}{r['cashews_calls_per_s']:>16,.0f}{r['ratio']:>8.2f}"
        )
    report = {"pairs": pairs, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
