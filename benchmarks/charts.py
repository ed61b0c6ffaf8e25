"""Charts benchmarks (issue 19): the cost of a chart's markup, and of pushing a point to many pages.

1. ``markup``: ``Charts.chart(c)`` (the option encoded by msgspec, escaped for a ``<script>`` data block) against
   pyecharts' own ways of putting the same chart in a page: ``c.dump_options()`` (its JSON alone, simplejson) and
   ``c.render_embed()`` (its HTML fragment with an inline script, through Jinja2), for line charts of 10, 1,000 and
   10,000 points. Interleaved A/B slices in one process; the figure is the median of the per-slice ratios
   (below 1: ours is cheaper).
2. ``push``: ``ChartFeed.push`` with 100 open streams against 1 (the event is encoded once and queued to each
   stream), same method.

Usage::

    .venv/bin/python benchmarks/charts.py            # both
    .venv/bin/python benchmarks/charts.py --smoke    # a quick end-to-end check, not a measurement

Ratios only: absolute figures on a shared machine mean nothing across runs (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from pyecharts.charts import Line

from gobstopper import Gobstopper
from gobstopper.extensions.charts import ChartFeed, Charts


def line(points: int) -> Line:
    xs = [f"t{i}" for i in range(points)]
    return (
        Line()
        .add_xaxis(xs)
        .add_yaxis("a", [i * 0.5 for i in range(points)])
        .add_yaxis("b", [points - i * 0.25 for i in range(points)])
    )


def per_call(func: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls


def ratio(a: Callable[[], Any], b: Callable[[], Any], slices: int, calls: int) -> float:
    """Median over interleaved slices of (time of a) / (time of b)."""
    a(), b()  # warm up
    ratios = []
    for _ in range(slices):
        ratios.append(per_call(a, calls) / per_call(b, calls))
    return statistics.median(ratios)


def markup(slices: int, smoke: bool) -> list[tuple[str, float, float]]:
    app = Gobstopper(__name__)
    charts = app.register_extension(Charts())
    rows = []
    for points in (10, 1_000) if smoke else (10, 1_000, 10_000):
        c = line(points)
        calls = max(1, 20_000 // (points + 50)) if not smoke else 1
        ours = lambda c=c: charts.chart(c)  # noqa: E731
        rows.append(
            (
                f"line, {points} points x 2 series",
                ratio(ours, c.dump_options, slices, calls),
                ratio(ours, c.render_embed, slices, calls),
            )
        )
    return rows


def push(slices: int, smoke: bool) -> float:
    async def run() -> float:
        feeds = {}
        streams = []
        for clients in (1, 100):
            feed = ChartFeed(window=100, queue_size=1_000_000)
            feed.add("c", series=2)
            for _ in range(clients):
                stream = feed.events()
                await stream.__anext__()  # subscribed
                streams.append(stream)
            feeds[clients] = feed
        n = iter(range(10**9))
        calls = 10 if smoke else 2_000
        value = ratio(lambda: feeds[100].push("c", next(n), 1.0, 2.0), lambda: feeds[1].push("c", next(n), 1.0, 2.0),
                      slices, calls)  # fmt: skip
        for stream in streams:
            await stream.aclose()
        return value

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a quick end-to-end run, not a measurement")
    parser.add_argument("--slices", type=int, default=15)
    args = parser.parse_args()
    slices = 2 if args.smoke else args.slices
    print("markup (Charts.chart vs pyecharts; median of per-slice time ratios, lower is cheaper)")
    print("| chart | vs dump_options() | vs render_embed() |\n| --- | --- | --- |")
    for name, vs_dump, vs_embed in markup(slices, args.smoke):
        print(f"| {name} | {vs_dump:.2f} | {vs_embed:.2f} |")
    print(f"\npush: 100 streams / 1 stream = {push(slices, args.smoke):.2f}")


if __name__ == "__main__":
    main()
