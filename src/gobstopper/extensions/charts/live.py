"""Live charts: new data points and option changes pushed to pages over Server-Sent Events.

A page's chart listens to an event stream when it is rendered with ``live=URL`` (``{{ chart(c, live="/live") }}``);
the extension's ``gobstopper-charts.js`` opens one ``EventSource`` per URL and applies two events to the chart
named in each:

``chart-points``  ``{"chart": ID, "x": [...], "y": [[...], ...], "limit": N}``: ``x[k]`` is appended to a category
                  x axis and ``y[i][k]`` to series ``i`` (as ``[x, y]`` pairs when the series holds pairs, e.g.
                  pyecharts' line charts or a time axis); only the last ``limit`` points are kept (0: all).
``chart-option``  ``{"chart": ID, "option": {...}}``: ``chart.setOption(option)``, merged as ECharts merges (arrays
                  such as a series' ``data`` are replaced). Gauges, pies, titles, anything.

:func:`chart_points` and :func:`chart_option` build one such event for a stream of your own (an async generator
given to ``EventSourceResponse``). :class:`ChartFeed` is a broadcaster: ``push()`` a point from anywhere in the app
(a background task, a POST handler) and every open page gets it; ``stream()`` is the handler's response.

Rules of :class:`ChartFeed`:

1. It keeps the last ``window`` points of each chart (and the last option sent to it), and a stream starts with
   that state: a page opened between two points, or a browser reconnecting after a network failure, shows the same
   data as the others.
2. Memory is bounded: each stream has a queue of at most ``queue_size`` events; a client too slow to take them is
   not waited for: its queue is dropped and it gets the current state again instead.
3. A stream stops as soon as its client leaves (the SSE machinery cancels it and its ``finally`` unsubscribes it),
   when :meth:`ChartFeed.close` is called, and when the app shuts down.
4. ``push`` and ``set_option`` are synchronous, never block and must be called on the app's event loop (from a
   thread, use ``loop.call_soon_threadsafe``). A feed lives in one process: with several workers, each one has its
   own feed and its own clients.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from ...http.response import Response
from ...http.sse import DEFAULT_PING_SECONDS, EventSourceResponse, ServerSentEvent
from ._markup import chart_id, encode_option, is_chart

__all__ = ["POINTS_EVENT", "OPTION_EVENT", "ChartFeed", "chart_option", "chart_points"]

#: The event that appends points.
POINTS_EVENT = "chart-points"
#: The event that merges an option.
OPTION_EVENT = "chart-option"
#: Reconnection delay announced to browsers (milliseconds; the EventSource default is about 3 s).
RETRY_MS = 1000


def chart_points(chart: Any, x: Any, *values: Any, limit: int = 0, id: int | str | None = None) -> ServerSentEvent:
    """A ``chart-points`` event: one point, ``x`` and one value per series (``None`` is a gap).

    Args:
        chart: the pyecharts chart or its id.
        x: the point's x (a category label, a time, a number).
        *values: the value of each series, in the chart's series order; fewer values than series leave the rest.
        limit: keep only the last ``limit`` points of each series (0: keep all).
        id: the event's id.

    Raises:
        ValueError: no value, or a negative limit.

    Example:
        >>> chart_points("cpu", "12:00:01", 0.42).encode()
        'event: chart-points\\ndata: {"chart":"cpu","x":["12:00:01"],"y":[[0.42]],"limit":0}\\n\\n'
    """
    if not values:
        raise ValueError("chart_points needs one value per series (at least one)")
    if limit < 0:
        raise ValueError(f"limit must be 0 (no limit) or more, not {limit}")
    data = {"chart": chart_id(chart), "x": [x], "y": [[v] for v in values], "limit": limit}
    return ServerSentEvent(_encode(data), event=POINTS_EVENT, id=id)


def chart_option(chart: Any, option: dict[str, Any], *, id: int | str | None = None) -> ServerSentEvent:
    """A ``chart-option`` event: ``option`` merged into the chart (``setOption``).

    Raises:
        ValueError: the option holds JavaScript (pyecharts ``JsCode``).
    """
    return ServerSentEvent(_encode({"chart": chart_id(chart), "option": option}), event=OPTION_EVENT, id=id)


def _encode(data: Any) -> str:
    return encode_option(data).decode()


class _Series:
    """What a feed remembers of one chart: its last points and the last option sent to it."""

    __slots__ = ("category", "option", "pairs", "points", "tracked")

    def __init__(self, window: int, category: bool, pairs: list[bool], tracked: bool = True) -> None:
        self.tracked = tracked  # its points are the feed's (added, or pushed to); else only options are sent
        self.category = category  # a category x axis: x values go to the axis' data
        self.pairs = pairs  # per series: its data is [x, y] pairs (else bare values)
        self.points: deque[tuple[Any, tuple[Any, ...]]] = deque(maxlen=window)  # (x, one value per series)
        self.option: dict[str, Any] | None = None

    def option_now(self) -> dict[str, Any]:
        """The x axis and series data as they are now, as an ECharts option."""
        xs = [x for x, _ in self.points]
        series = []
        for i, pairs in enumerate(self.pairs):
            values = [ys[i] for _, ys in self.points]
            series.append({"data": [[x, y] for x, y in zip(xs, values)] if pairs else values})
        option: dict[str, Any] = {"series": series}
        if self.category:
            option["xAxis"] = [{"data": xs}]
        return option


def _opts(value: Any) -> Any:
    # pyecharts keeps some options as option objects inside the option dict.
    return getattr(value, "opts", value)


def _from_chart(chart: Any, window: int, category: bool | None) -> _Series:
    # The feed's starting state: the chart's x axis type, the shape of each series and its last points.
    option = chart.get_options()
    axes = _opts(option.get("xAxis")) or []
    axis = _opts(axes[0]) if isinstance(axes, list) and axes else {}
    axis = axis if isinstance(axis, dict) else {}
    if category is None:
        category = bool(axes) and axis.get("type", "category") == "category"
    columns = []
    pairs = []
    for entry in _opts(option.get("series")) or []:
        data = list((_opts(entry) or {}).get("data") or [])
        pairs.append(isinstance(data[-1], (list, tuple)) if data else not category)
        columns.append(data)
    state = _Series(window, category, pairs)
    xs = list(axis.get("data") or []) if category else []
    length = max([len(xs), *(len(c) for c in columns)], default=0)
    for k in range(length):
        x = xs[k] if k < len(xs) else None
        values = []
        for i, data in enumerate(columns):
            item = data[k] if k < len(data) else None
            if pairs[i] and isinstance(item, (list, tuple)) and len(item) >= 2:
                x = item[0] if x is None else x
                item = item[1]
            values.append(item)
        state.points.append((x, tuple(values)))
    return state


class _Subscriber:
    __slots__ = ("queue", "stale")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue(size)
        self.stale = False  # it missed events: send it the whole state next


class ChartFeed:
    """Pushes points and options to every page showing a set of charts (one event stream).

    Args:
        window: points kept per chart, in the feed and in the pages (older ones scroll out).
        queue_size: events buffered per client before it is considered too slow (rule 2).
        ping: seconds of silence before a keep-alive comment (``EventSourceResponse``'s ``ping``).

    Raises:
        ValueError: ``window`` or ``queue_size`` below 1.

    Example:
        >>> feed = ChartFeed(window=60)
        >>> feed.add(line)                      # a pyecharts chart: its id, axis type, series and data
        >>> feed.push(line, "12:00:01", 21.5)   # one point: x, then one value per series
        >>> @app.get("/live")
        ... async def live(request):
        ...     return feed.stream()
    """

    def __init__(self, window: int = 100, *, queue_size: int = 256, ping: float | None = DEFAULT_PING_SECONDS) -> None:
        if window < 1:
            raise ValueError(f"window must be 1 or more, not {window}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be 1 or more, not {queue_size}")
        self.window = window
        self.queue_size = queue_size
        self.ping = ping
        self._charts: dict[str, _Series] = {}
        self._subscribers: set[_Subscriber] = set()
        self._ids = itertools.count(1)
        self._closed = False

    # -- what the feed carries ----------------------------------------------------------------------------------

    def add(self, chart: Any, *, series: int | None = None, category: bool | None = None) -> Any:
        """Track ``chart`` and return it: a pyecharts chart (its last ``window`` points are the starting state), or
        an id with ``series=`` (how many series) and ``category=`` (a category x axis, the default).

        Raises:
            ValueError: an id without ``series``.
        """
        key = chart_id(chart)
        if is_chart(chart):
            self._charts[key] = _from_chart(chart, self.window, category)
        elif series is None:
            raise ValueError("ChartFeed.add(id) needs series= (how many series the chart has)")
        else:
            is_category = True if category is None else category
            self._charts[key] = _Series(self.window, is_category, [not is_category] * series)
        return chart

    def push(self, chart: Any, x: Any, *values: Any) -> None:
        """Append one point to ``chart`` (added on first use if it is a pyecharts chart) and send it to every page.

        Args:
            chart: the chart or its id.
            x: the point's x.
            *values: one value per series, in order (``None`` for a gap; missing ones are gaps).

        Raises:
            KeyError: an id that was never added.
            ValueError: no value, or more values than the chart has series.
        """
        state = self._state(chart, points=True)
        if not values:
            raise ValueError("push needs one value per series (at least one)")
        if len(values) > len(state.pairs):
            raise ValueError(f"chart {chart_id(chart)!r} has {len(state.pairs)} series, got {len(values)} values")
        row = tuple(values[i] if i < len(values) else None for i in range(len(state.pairs)))
        event = chart_points(chart, x, *row, limit=self.window, id=next(self._ids))
        state.points.append((x, row))
        self._publish(event)

    def set_option(self, chart: Any, option: dict[str, Any]) -> None:
        """Merge ``option`` into ``chart`` on every page (``setOption``). The last one is replayed to pages that
        connect later, so make it whole (the current state, not a difference).

        Raises:
            KeyError: an id that was never added.
            ValueError: the option holds JavaScript.
        """
        state = self._state(chart, points=False)
        event = chart_option(chart, option, id=next(self._ids))  # encodes (and checks) the option once
        state.option = option
        self._publish(event)

    def _state(self, chart: Any, points: bool) -> _Series:
        key = chart_id(chart)
        state = self._charts.get(key)
        if state is None or (points and not state.tracked):
            if not is_chart(chart):
                raise KeyError(f"chart {key!r} is not in this feed: add it first (feed.add)")
            if points:
                option = None if state is None else state.option
                self.add(chart)
                self._charts[key].option = option
            else:  # a chart that only gets options (a gauge): its data is the options'
                self._charts[key] = _Series(self.window, False, [], tracked=False)
            state = self._charts[key]
        return state

    def snapshot(self) -> list[ServerSentEvent]:
        """The events that bring a page to the feed's current state: per chart, its last option, then its data."""
        events = []
        for key, state in self._charts.items():
            if state.option is not None:
                events.append(chart_option(key, state.option))
            if state.tracked:
                events.append(chart_option(key, state.option_now()))
        return events

    # -- the clients ----------------------------------------------------------------------------------------------

    @property
    def clients(self) -> int:
        """How many event streams are open."""
        return len(self._subscribers)

    def _publish(self, event: ServerSentEvent) -> None:
        for subscriber in self._subscribers:
            if subscriber.stale:
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.stale = True  # rule 2: drop what it has not read; it gets the state instead
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        """The feed as events for one client: the current state, then every change (rule 1)."""
        if self._closed:
            return
        subscriber = _Subscriber(self.queue_size)
        # Subscribed and the state taken in one step (no await between): no event is both in the state and queued.
        self._subscribers.add(subscriber)
        pending = self.snapshot()
        try:
            yield ServerSentEvent(comment="gobstopper charts", retry=RETRY_MS)
            while True:
                for event in pending:
                    yield event
                item = await subscriber.queue.get()
                if item is None:
                    return
                if subscriber.stale:
                    # Rule 2, in one step again: forget what was queued, take the state, listen anew.
                    subscriber.stale = False
                    while not subscriber.queue.empty():
                        subscriber.queue.get_nowait()
                    pending = self.snapshot()
                else:
                    pending = [item]
        finally:
            self._subscribers.discard(subscriber)

    def stream(self, *, headers: Any = None) -> Response:
        """The response of the feed's route: an event stream of :meth:`events`; ``204 No Content`` once the feed is
        closed (an ``EventSource`` given a 204 stops reconnecting: HTML standard §9.2.3)."""
        if self._closed:
            return Response(b"", status=204)
        return EventSourceResponse(self.events(), headers=headers, ping=self.ping)

    def close(self) -> None:
        """End every open stream (clients reconnect after ``retry``; a closed feed sends nothing more)."""
        self._closed = True
        for subscriber in self._subscribers:
            subscriber.stale = False
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)
