"""SSE topics: events published once, received by every subscribed stream in every process, with a bounded
history for ``Last-Event-ID`` replay.

Rules:

1. An event's id is its position in the topic's history: a Redis Stream entry id (``<milliseconds>-<sequence>``)
   under ``<prefix>stream:<topic>``, or the same shape from a per-process history for ``memory://``. Ids only
   grow, so "what did I miss" is "every entry after my id", and a duplicate is any id not above the last one
   delivered.
2. Publishing is one Lua script: ``XADD``, delete the entries beyond ``history`` (``XDEL``, so Redis records the
   greatest deleted id), ``PUBLISH``. The stream and the live message cannot disagree.
3. A subscriber registers for live events *before* it reads the history, then drops live events it already
   replayed: nothing falls in between.
4. When the id a client resumes from is older than what the history keeps (or unreadable, or the stream is gone),
   the first event is ``history-lost`` (:data:`HISTORY_LOST_EVENT`): the client should fetch the current state.
   Live events follow.
5. A subscriber whose queue fills (``max_queue`` events it did not consume) ends its stream: the browser's
   ``EventSource`` reconnects with ``Last-Event-ID`` and catches up from the history, instead of the server
   buffering without bound. After a Redis outage each subscriber catches up from the history the same way.
6. Events published while Redis is unreachable reach this process's subscribers only, without an id (they are
   in no history).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections import deque
from typing import Any

import msgspec

from ..http.response import json_encoder
from ..http.sse import DEFAULT_PING_SECONDS, EventSourceResponse, ServerSentEvent

logger = logging.getLogger("gobstopper.bus")

#: The event a subscriber gets first when its ``Last-Event-ID`` is older than the history (its data is JSON:
#: ``{"topic": ..., "last_event_id": ..., "oldest_event_id": ...}``).
HISTORY_LOST_EVENT = "history-lost"

_ID = re.compile(r"\A(\d{1,19})(?:-(\d{1,19}))?\Z")
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(tuple[str | None, str, str]).decode

# KEYS[1] the stream; ARGV: history, event, data, channel, node id. Returns the new entry's id.
_PUBLISH = """
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2], 'd', ARGV[3])
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  for i = 1, #old do redis.call('XDEL', KEYS[1], old[i][1]) end
end
redis.call('PUBLISH', ARGV[4], ARGV[5] .. cmsgpack.pack({id, ARGV[2], ARGV[3]}))
return id
"""


def parse_event_id(value: str | bytes | None) -> tuple[int, int] | None:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)`` (``"17"`` is ``(17, 0)``); None when it is not an id."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    match = _ID.match(value.strip()) if value else None
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _text(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode()
    return json_encoder.encode(data).decode()


def _event(event_id: str | None, event: str, data: str) -> ServerSentEvent:
    return ServerSentEvent(data, event=event or None, id=event_id)


class Topic:
    """A named stream of server-sent events shared by every process on the bus (``bus.topic(name)``).

    Example:
        >>> news = app.bus.topic("news")
        >>> @app.get("/news")
        ... async def news_stream(request):
        ...     return news.stream(request)  # resumes from the request's Last-Event-ID
        >>> await news.publish({"title": "hello"}, event="headline")
        '1700000000000-0'
    """

    def __init__(self, bus: Any, name: str, history: int) -> None:
        if type(history) is not int or history < 1:
            raise ValueError(f"history must be a whole number of events >= 1, not {history!r}")
        self.bus = bus
        self.name = name
        self.history = history
        self.key = bus.prefix + "stream:" + name
        self._wire_channel = bus.prefix + "t:" + name
        self.channel = "\x00topic:" + name  # the bus's local channel for this topic (not a user channel)
        self._subscriptions: weakref.WeakSet[TopicSubscription] = weakref.WeakSet()
        # memory:// history: (id tuple, id text, event, data), oldest first
        self._entries: deque[tuple[tuple[int, int], str, str, str]] = deque()
        self._max_deleted = (0, 0)
        self._last = (0, 0)

    def __repr__(self) -> str:
        return f"<Topic {self.name!r} history={self.history}>"

    # -- publishing ---------------------------------------------------------------------------------------------

    async def publish(self, data: Any = None, event: str | None = None) -> str | None:
        """Send an event to every subscriber of the topic, in every process, and keep it in the history.

        Args:
            data: text, bytes (UTF-8) or anything msgspec encodes as JSON; it becomes the event's ``data``.
            event: the event's type (``event:`` field); None for the default ``message``.

        Returns:
            The event's id, or None when Redis was unreachable (then only this process's subscribers got it).

        Raises:
            ValueError: ``event`` holds CR or LF.
        """
        text = _text(data)
        kind = "" if event is None else ServerSentEvent(event=event).event or ""
        if self.bus.backend != "redis":
            event_id = self._remember(kind, text)
            self.bus.deliver(self.channel, _pack((event_id, kind, text)))
            return event_id
        if await self.bus._ready():
            try:
                script = self.bus.script("topic_publish", _PUBLISH)
                raw = await script(keys=[self.key], args=[self.history, kind, text, self._wire_channel, self.bus._node])
                event_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                self.bus.stats["published"] += 1
                self.bus.deliver(self.channel, _pack((event_id, kind, text)))
                return event_id
            except Exception as exc:
                self.bus._publish_failed(exc)
        else:
            self.bus.stats["skipped"] += 1
        self.bus.deliver(self.channel, _pack((None, kind, text)))
        return None

    def _remember(self, kind: str, text: str) -> str:
        ms = int(time.time() * 1000)
        last_ms, seq = self._last
        key = (last_ms, seq + 1) if ms <= last_ms else (ms, 0)
        self._last = key
        event_id = f"{key[0]}-{key[1]}"
        self._entries.append((key, event_id, kind, text))
        while len(self._entries) > self.history:
            self._max_deleted = self._entries.popleft()[0]
        return event_id

    # -- history ------------------------------------------------------------------------------------------------

    async def replay(self, last_event_id: str) -> tuple[bool, list[ServerSentEvent]]:
        """The events after ``last_event_id``, oldest first, and whether some were lost (rule 4).

        Returns:
            ``(lost, events)``: ``lost`` is True when the id is unreadable, older than the history, or the
            history is gone; ``events`` are what the history still has after the id (all of it when lost).

        Raises:
            Exception: redis-py's errors when Redis cannot be read.
        """
        after = parse_event_id(last_event_id)
        if self.bus.backend != "redis":
            entries = list(self._entries)
            if after is None:
                return True, []
            lost = after < self._max_deleted or (
                self._max_deleted == (0, 0) and bool(entries) and after < entries[0][0]
            )
            return lost, [_event(i, e, d) for key, i, e, d in entries if key > after]
        if after is None:
            return True, []
        client = self.bus.redis
        async with client.pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(self.key)
            pipe.xrange(self.key, min=f"({after[0]}-{after[1]}", max="+", count=self.history)
            info, entries = await pipe.execute(raise_on_error=False)
        if isinstance(info, Exception):
            if "no such key" in str(info).lower():
                return True, []  # the history is gone (never written, deleted, or Redis was emptied)
            raise info
        if isinstance(entries, Exception):
            raise entries
        max_deleted = parse_event_id(info.get("max-deleted-entry-id")) or (0, 0)
        first = info.get("first-entry")
        first_id = parse_event_id(first[0]) if first else None
        lost = after < max_deleted or (max_deleted == (0, 0) and first_id is not None and after < first_id)
        events = []
        for raw_id, fields in entries:
            event_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            events.append(_event(event_id, fields.get(b"e", b"").decode(), fields.get(b"d", b"").decode()))
        return lost, events

    # -- subscribing --------------------------------------------------------------------------------------------

    def subscribe(self, last_event_id: str | None = None, *, max_queue: int = 1000) -> TopicSubscription:
        """An async context manager and iterator of :class:`~gobstopper.http.sse.ServerSentEvent`: first what was
        missed since ``last_event_id`` (when given), then live events.

        Example:
            >>> async with topic.subscribe(last_event_id) as events:
            ...     async for event in events:
            ...         print(event.id, event.data)
        """
        return TopicSubscription(self, last_event_id, max_queue)

    def stream(
        self,
        request: Any = None,
        *,
        last_event_id: str | None = None,
        ping: float | None = DEFAULT_PING_SECONDS,
        headers: Any = None,
        max_queue: int = 1000,
    ) -> EventSourceResponse:
        """An :class:`~gobstopper.http.sse.EventSourceResponse` of the topic for one client.

        Args:
            request: the request; its ``Last-Event-ID`` header (a reconnecting ``EventSource``) is where the
                stream resumes.
            last_event_id: or where to resume, explicitly.
            ping: seconds of silence before a keep-alive comment.
            headers: extra response headers.
            max_queue: live events buffered for this client before its stream ends (rule 5).

        The stream opens with a comment (``: topic <name>``) once it is subscribed.
        """
        if last_event_id is None and request is not None:
            last_event_id = request.header("last-event-id")

        async def events() -> Any:
            async with self.subscribe(last_event_id, max_queue=max_queue) as subscription:
                yield ServerSentEvent(comment=f"topic {self.name}")
                async for event in subscription:
                    yield event

        return EventSourceResponse(events(), ping=ping, headers=headers)

    def _on_reconnect(self) -> None:
        for subscription in tuple(self._subscriptions):
            subscription._resync = True
            subscription._wake.set()


class TopicSubscription:
    """One subscriber of a :class:`Topic` (see :meth:`Topic.subscribe`)."""

    def __init__(self, topic: Topic, last_event_id: str | None, max_queue: int) -> None:
        if type(max_queue) is not int or max_queue < 1:
            raise ValueError(f"max_queue must be a whole number >= 1, not {max_queue!r}")
        self.topic = topic
        self.last_event_id = last_event_id or None
        self.max_queue = max_queue
        self.overflowed = False
        self._queue: deque[tuple[str | None, str, str]] = deque()
        self._backlog: deque[ServerSentEvent] = deque()
        self._wake = asyncio.Event()
        self._last: tuple[int, int] | None = None
        self._resync = False
        self._subscription: Any = None

    async def __aenter__(self) -> TopicSubscription:
        topic = self.topic
        self._subscription = topic.bus.subscribe(topic.channel, self._on_message)  # before the history (rule 3)
        topic._subscriptions.add(self)
        if self.last_event_id is not None:
            await self._catch_up(self.last_event_id, first=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop receiving."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        self.topic._subscriptions.discard(self)

    async def _catch_up(self, since: str, first: bool = False) -> None:
        try:
            lost, events = await self.topic.replay(since)
        except Exception as exc:  # Redis unreachable: the client is told, then gets live events
            logger.warning(
                "bus: reading the history of topic %r failed (%s: %s)", self.topic.name, type(exc).__name__, exc
            )
            lost, events = True, []
        if lost and first:
            oldest = events[0].id if events else None
            info = {"topic": self.topic.name, "last_event_id": since, "oldest_event_id": oldest}
            self._backlog.append(ServerSentEvent(_text(info), event=HISTORY_LOST_EVENT))
            events = []  # the client resynchronises from the current state; live events follow
        if first and not lost:
            self._last = parse_event_id(since)
        for event in events:
            key = parse_event_id(event.id)
            if key is not None and (self._last is None or key > self._last):
                self._backlog.append(event)
                self._last = key

    def _on_message(self, data: bytes) -> None:
        if self.overflowed:
            return
        if len(self._queue) >= self.max_queue:
            self.overflowed = True  # rule 5: end the stream; the client resumes from the history
        else:
            self._queue.append(_unpack(data))
        self._wake.set()

    def __aiter__(self) -> TopicSubscription:
        return self

    async def __anext__(self) -> ServerSentEvent:
        while True:
            if self._resync:
                self._resync = False
                if self._last is not None:
                    await self._catch_up(f"{self._last[0]}-{self._last[1]}")
            if self._backlog:
                return self._backlog.popleft()
            while self._queue:
                event_id, kind, text = self._queue.popleft()
                if event_id is not None:
                    key = parse_event_id(event_id)
                    if key is not None:
                        if self._last is not None and key <= self._last:
                            continue  # replayed already (rule 3)
                        self._last = key
                return _event(event_id, kind, text)
            if self.overflowed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()


__all__ = ["HISTORY_LOST_EVENT", "Topic", "TopicSubscription", "parse_event_id"]
