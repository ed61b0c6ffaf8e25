"""Per-route request metrics: what is recorded per request (as little as possible) and what is derived on read.

Per request (only while Mission Control is on): the route's counter and, for 5xx answers, its error counter; for
timed requests (the dispatcher times the first 1,024 requests, then one in 16) a latency sample appended to the
route's window (the last :data:`WINDOW` samples). Percentiles, rates and the
cross-worker merge are computed when someone reads them (the dashboard, ``/_gobstopper/api/stats``), never per
request. The latency is the time from dispatch to the response's head (a streamed body's duration is not in it).

Several workers: each publishes a snapshot (counters and a latency histogram per route, with fixed log-spaced
buckets) and the snapshots are merged exactly: counts add up, histograms add up, percentiles are read from the
merged histogram (to within one bucket, about 19%).
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

#: Latency samples kept per route (the percentiles are over these most recent requests).
WINDOW = 1024
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
    """The per-route figures of one app in this worker, and the observed ``handle`` that fills them."""

    def __init__(self) -> None:
        self.routes: dict[Any, RouteStats] = {}
        self.started = time.time()

    def _stats_for(self, route: Any) -> RouteStats:
        if route is None:
            stats = RouteStats("(no route: 404/405)", "")
        else:
            stats = RouteStats(route.record.name, route.record.pattern)
        self.routes[route] = stats
        return stats

    def recorder(self) -> Callable[[Any, Any, float], None]:
        """The dispatcher's observer (``Dispatcher.observe``): called after each request with the request, its
        response (``None`` on the JSON fast path, always a 200) and a clock reading when the request was timed
        (else 0.0). Everything it needs is bound to locals: a dict lookup, a counter, a status check, and for a timed
        request a clock read and an append."""
        clock = time.perf_counter
        get = self.routes.get
        new = self._stats_for

        def record(request: Any, response: Any, started: float) -> None:
            route = request._route
            stats = get(route)
            if stats is None:
                stats = new(route)
            stats.count += 1
            if started:
                stats.samples.append(clock() - started)
            if response is not None and response.status >= 500:
                stats.errors += 1

        return record

    def snapshot(self, hidden: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Per-route figures of this worker: name, pattern, count, errors and the latency histogram."""
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
