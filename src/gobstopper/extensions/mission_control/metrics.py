"""Per-route request metrics: what is recorded per request (as little as possible) and what is derived on read.

Per request (only while Mission Control is on), the dispatcher adds one to the route's ``hits`` counter (a slot of
its route object; ``unrouted`` for requests no route took). A timed request also appends ``(route, seconds)`` to a
deque. Requests are timed while the dispatcher's ``time_next`` flag is set: Mission Control arms it every
:data:`ARM_INTERVAL` seconds and the first request that sees it is timed and disarms it, so about fifty requests a
second are timed whatever the load (a clock read costs more than all the rest of the recording). Every
:data:`ARM_INTERVAL` the counters are moved into the totals (so they stay small ints, which cost no allocation)
and the timings into per-route latency windows; percentiles, rates and the cross-worker merge are computed when
someone reads the figures, never per request. The latency is the time from
dispatch to the response's head (a streamed body's duration is not in it). Unhandled exceptions are counted per
route from the app's own log record of them, off the request path.

Several workers: each publishes a snapshot (counters and a latency histogram per route, with fixed log-spaced
buckets) and the snapshots are merged exactly: counts add up, histograms add up, percentiles are read from the
merged histogram (to within one bucket, about 19%).
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

#: Latency samples kept per route (the percentiles are over these most recent timed requests).
WINDOW = 1024
#: Seconds between two timed requests (at most; the next request after the flag is armed is timed).
ARM_INTERVAL = 0.02
#: Most timings waiting to be drained.
PENDING = 1 << 16
#: Histogram bucket upper bounds in seconds: 4 buckets per doubling from 1 µs to about 70 s.
BUCKETS: tuple[float, ...] = tuple(1e-6 * 2 ** (i / 4) for i in range(105))
PERCENTILES = (50, 90, 99)


class RouteStats:
    """The figures of one route in this worker."""

    __slots__ = ("count", "errors", "name", "pattern", "samples")

    def __init__(self, name: str, pattern: str) -> None:
        self.name = name
        self.pattern = pattern
        self.count = 0
        self.errors = 0
        self.samples: deque[float] = deque(maxlen=WINDOW)

    def histogram(self) -> dict[int, int]:
        """The latency window as ``{bucket index: samples}`` (sparse)."""
        counts: dict[int, int] = {}
        for sample in list(self.samples):
            index = min(bisect.bisect_left(BUCKETS, sample), len(BUCKETS) - 1)
            counts[index] = counts.get(index, 0) + 1
        return counts


def percentile(sorted_values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (nearest rank) of ascending values, or None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def histogram_percentile(histogram: dict[int, int], p: float) -> float | None:
    """The ``p``-th percentile of a bucket histogram: the upper bound of the bucket holding that rank."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return BUCKETS[index]
    return BUCKETS[-1]  # pragma: no cover - the loop always reaches the rank


class Recorder:
    """The per-route figures of one app in this worker, read from its dispatcher."""

    def __init__(self) -> None:
        self.routes: dict[Any, RouteStats] = {}
        self.started = time.time()
        self.dispatcher: Any = None
        # (route, seconds) of timed requests, appended by the dispatcher: about fifty a second; bounded all the same.
        self.timings: deque[tuple[Any, float]] = deque(maxlen=PENDING)

    def attach(self, dispatcher: Any) -> None:
        """Start recording ``dispatcher``'s requests (its seam: ``observe``, ``time_next``, route ``hits``)."""
        self.dispatcher = dispatcher
        dispatcher.observe = self.timings.append

    def _stats_for(self, route: Any) -> RouteStats:
        stats = self.routes.get(route)
        if stats is None:
            if route is None:
                stats = RouteStats("(no route: 404/405)", "")
            else:
                stats = RouteStats(route.record.name, route.record.pattern)
            self.routes[route] = stats
        return stats

    def drain(self) -> None:
        """Bring the figures up to date: move the routes' hit counters into the totals, then
        :meth:`drain_timings`."""
        # Taken and reset every tick, a counter stays a small int: CPython caches those, so the dispatcher's
        # `hits += 1` allocates nothing.
        dispatcher = self.dispatcher
        if dispatcher is not None:
            for route in dispatcher.routes:
                hits = route.hits
                if hits:
                    route.hits = 0
                    self._stats_for(route).count += hits
            unrouted = dispatcher.unrouted
            if unrouted:
                dispatcher.unrouted = 0
                self._stats_for(None).count += unrouted
        self.drain_timings()

    def drain_timings(self) -> None:
        """Move the timings the dispatcher appended into the routes' latency windows."""
        timings = self.timings
        while timings:
            route, seconds = timings.popleft()
            self._stats_for(route).samples.append(seconds)

    def error(self, route: Any) -> None:
        """Count an unhandled exception raised while serving ``route``."""
        self._stats_for(route).errors += 1

    def snapshot(self, hidden: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Per-route figures of this worker: name, pattern, count, errors and the latency histogram."""
        self.drain()
        hide = tuple(hidden)
        rows = []
        for stats in list(self.routes.values()):
            if hide and stats.name.startswith(hide):
                continue
            rows.append(
                {
                    "name": stats.name,
                    "pattern": stats.pattern,
                    "count": stats.count,
                    "errors": stats.errors,
                    "histogram": stats.histogram(),
                }
            )
        return rows


def merge(snapshots: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Combine per-route rows of several workers: counts and histograms add up; percentiles (seconds) are read
    from the merged histogram. Rows come out busiest first."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for rows in snapshots:
        for row in rows:
            key = (row["name"], row["pattern"])
            into = merged.setdefault(key, {"name": row["name"], "pattern": row["pattern"], "count": 0, "errors": 0,
                                           "histogram": {}})  # fmt: skip
            into["count"] += row["count"]
            into["errors"] += row["errors"]
            for index, n in row["histogram"].items():
                into["histogram"][int(index)] = into["histogram"].get(int(index), 0) + n
    out = []
    for row in merged.values():
        histogram = row.pop("histogram")
        for p in PERCENTILES:
            row[f"p{p}"] = histogram_percentile(histogram, p)
        out.append(row)
    out.sort(key=lambda r: (-r["count"], r["pattern"]))
    return out
