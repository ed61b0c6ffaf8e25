"""The message bus against raw redis-py on the same Redis, in the same run (ratios, docs/performance.md).

Two measurements, each as interleaved rounds (bus, raw, bus, raw...), medians and their ratio:

- **round trip**: one side publishes a message, the other answers it on another channel, the first receives the
  answer: the time from publish to answer, median and 99th percentile of ``--messages`` round trips. The bus side
  is two :class:`~gobstopper.bus.MessageBus` (each its own listening connection, as two processes have); the raw
  side is the same topology in plain redis-py: two ``PubSub`` with ``PSUBSCRIBE <prefix>*`` read by
  ``get_message`` loops that keep their channel's messages. The ratio is what the bus's code adds.
- **publish rate**: ``--messages`` awaited ``publish`` calls in a row while the other bus and the publisher's own
  listener (or two raw ``PubSub`` readers) receive them: messages per second.

Usage: ``GOBSTOPPER_TEST_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python benchmarks/bus.py [--rounds 5]
[--messages 2000] [--smoke]``. Not part of the test run (a smoke mode is: ``--smoke``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from gobstopper.bus import MessageBus


async def bus_round_trips(url: str, count: int) -> list[float]:
    prefix = f"bench:{uuid.uuid4().hex}:"
    a, b = MessageBus(url, prefix=prefix), MessageBus(url, prefix=prefix)
    await a.start()
    await b.start()
    answered: asyncio.Queue[bytes] = asyncio.Queue()
    b.subscribe("ping", lambda data: asyncio.ensure_future(b.publish("pong", data)))
    a.subscribe("pong", answered.put_nowait)
    times = []
    try:
        for n in range(count):
            started = time.perf_counter()
            await a.publish("ping", str(n))
            await answered.get()
            times.append(time.perf_counter() - started)
    finally:
        await a.close()
        await b.close()
    return times


async def raw_round_trips(url: str, count: int) -> list[float]:
    prefix = f"bench:{uuid.uuid4().hex}:"
    client = Redis.from_url(url)
    # The bus's topology: each side one PubSub with PSUBSCRIBE <prefix>*, reading everything, keeping its channel.
    pa, pb = client.pubsub(ignore_subscribe_messages=True), client.pubsub(ignore_subscribe_messages=True)
    await pa.psubscribe(prefix + "*")
    await pb.psubscribe(prefix + "*")
    answered: asyncio.Queue[bytes] = asyncio.Queue()

    async def listen(pubsub: Any, channel: bytes, on: Any) -> None:
        while True:
            message = await pubsub.get_message(timeout=30.0)
            if message is not None and message["type"] == "pmessage" and message["channel"] == channel:
                on(message["data"])

    ping, pong = (prefix + "ping").encode(), (prefix + "pong").encode()
    tasks = [
        asyncio.create_task(listen(pb, ping, lambda data: asyncio.ensure_future(client.publish(pong, data)))),
        asyncio.create_task(listen(pa, pong, answered.put_nowait)),
    ]
    times = []
    try:
        for n in range(count):
            started = time.perf_counter()
            await client.publish(ping, str(n))
            await answered.get()
            times.append(time.perf_counter() - started)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pa.aclose()
        await pb.aclose()
        await client.aclose()
    return times


async def bus_publish_rate(url: str, count: int) -> float:
    prefix = f"bench:{uuid.uuid4().hex}:"
    a, b = MessageBus(url, prefix=prefix), MessageBus(url, prefix=prefix)
    await a.start()
    await b.start()
    b.subscribe("c", lambda data: None)
    try:
        started = time.perf_counter()
        for _ in range(count):
            await a.publish("c", b"x")
        return count / (time.perf_counter() - started)
    finally:
        await a.close()
        await b.close()


async def raw_publish_rate(url: str, count: int) -> float:
    prefix = f"bench:{uuid.uuid4().hex}:"
    client = Redis.from_url(url)
    listeners = [client.pubsub(ignore_subscribe_messages=True) for _ in range(2)]  # the other side, and the echo

    async def drain(pubsub: Any) -> None:
        while True:
            await pubsub.get_message(timeout=30.0)

    for listener in listeners:
        await listener.psubscribe(prefix + "*")
    tasks = [asyncio.create_task(drain(listener)) for listener in listeners]
    try:
        started = time.perf_counter()
        for _ in range(count):
            await client.publish(prefix + "c", b"x")
        return count / (time.perf_counter() - started)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for listener in listeners:
            await listener.aclose()
        await client.aclose()


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="1 round of 50 messages (a check, not a measurement)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.messages = 1, 50
    url = os.environ.get("GOBSTOPPER_TEST_REDIS_URL") or os.environ.get("GOBSTOPPER_BUS_URL")
    if not url:
        print("set GOBSTOPPER_TEST_REDIS_URL (or GOBSTOPPER_BUS_URL) to a Redis URL", file=sys.stderr)
        return 2
    results: dict[str, list[float]] = {
        k: [] for k in ("bus_p50", "raw_p50", "bus_p99", "raw_p99", "bus_rate", "raw_rate")
    }
    for _ in range(args.rounds):
        for side, trips, rate in (
            ("bus", bus_round_trips, bus_publish_rate),
            ("raw", raw_round_trips, raw_publish_rate),
        ):
            times = asyncio.run(trips(url, args.messages))
            results[f"{side}_p50"].append(statistics.median(times))
            results[f"{side}_p99"].append(p99(times))
            results[f"{side}_rate"].append(asyncio.run(rate(url, args.messages)))
    med = {k: statistics.median(v) for k, v in results.items()}
    mode = "smoke" if args.smoke else "full"
    print(f"gobstopper bus benchmark  rounds={args.rounds}  messages={args.messages}  mode={mode}")
    print(f"{'measure':<16} {'bus / raw':>9}   bus, raw (medians over rounds)")
    for label, key, unit in (
        ("round trip p50", "p50", "us"),
        ("round trip p99", "p99", "us"),
        ("publish rate", "rate", "/s"),
    ):
        bus, raw = med["bus_" + key], med["raw_" + key]
        scale = 1e6 if unit == "us" else 1
        print(f"{label:<16} {bus / raw:>9.2f}   {bus * scale:,.0f} {unit}, {raw * scale:,.0f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
