"""Server-Sent Events (the WHATWG HTML Living Standard, §9.2 "Server-sent events"): framing and a response.

``ServerSentEvent`` frames one event; ``EventSourceResponse`` streams events with keep-alive comments and the
headers proxies need not to buffer (``Cache-Control: no-cache``, ``X-Accel-Buffering: no``). The names are the
field's (sse-starlette, the ``EventSource`` API). Rules:

1. ``data`` may span lines: every line break (CRLF, CR or LF, §9.2.6) starts a new ``data:`` field, so the
   client rebuilds the same text joined with LF. ``event`` and ``id`` cannot hold CR or LF (an event could be
   injected), nor ``id`` a NUL (§9.2.6 ignores such ids): both are a ``ValueError``.
2. A keep-alive comment (``: ping``) is sent after ``ping`` seconds without an event (15 s by default), so
   proxies and clients do not time the connection out.
3. The generator's ``finally`` runs as soon as the client leaves (the adapters watch the server's disconnect
   signal) and when the app shuts down (the stream then ends normally, and the client reconnects elsewhere).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from .headers import HeadersInit
from .response import StreamResponse, json_encoder

#: The media type of an event stream (§9.2.5), UTF-8 always.
EVENT_STREAM = "text/event-stream; charset=utf-8"
#: Seconds of silence before a keep-alive comment.
DEFAULT_PING_SECONDS = 15.0
#: Sent when the stream has been idle ``ping`` seconds.
PING_COMMENT = ": ping\n\n"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BAD_FIELD = re.compile(r"[\r\n]")


def _check_field(name: str, value: str) -> str:
    if _BAD_FIELD.search(value) or (name == "id" and "\x00" in value):
        raise ValueError(f"an SSE {name!r} field cannot contain CR, LF{' or NUL' if name == 'id' else ''}: {value!r}")
    return value


class ServerSentEvent:
    """One event: ``data`` (text, or anything msgspec encodes as JSON), and optional ``event``, ``id``,
    ``retry`` (milliseconds) and ``comment``.

    Raises:
        ValueError: ``event`` or ``id`` holds a line break (``id`` also a NUL), or ``retry`` is negative.

    Example:
        >>> ServerSentEvent("line 1\\nline 2", event="update", id="7").encode()
        'id: 7\\nevent: update\\ndata: line 1\\ndata: line 2\\n\\n'
    """

    __slots__ = ("comment", "data", "event", "id", "retry")

    def __init__(
        self,
        data: Any = None,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        self.data = data
        self.event = None if event is None else _check_field("event", str(event))
        self.id = None if id is None else _check_field("id", str(id))
        if retry is not None and (type(retry) is not int or retry < 0):
            raise ValueError(f"an SSE retry must be a non-negative number of milliseconds, not {retry!r}")
        self.retry = retry
        self.comment = comment

    def encode(self) -> str:
        """The event's text on the wire, ending with the blank line that dispatches it."""
        lines: list[str] = []
        if self.comment is not None:
            lines += [": " + line for line in _LINE_BREAK.split(str(self.comment))]
        if self.id is not None:
            lines.append("id: " + self.id)
        if self.event is not None:
            lines.append("event: " + self.event)
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data
        if data is not None:
            if isinstance(data, bytes):
                data = data.decode()
            elif not isinstance(data, str):
                data = json_encoder.encode(data).decode()
            lines += ["data: " + line for line in _LINE_BREAK.split(data)]
        return "\n".join(lines) + "\n\n"

    def __repr__(self) -> str:
        return f"<ServerSentEvent event={self.event!r} id={self.id!r}>"


def format_sse(
    data: Any = None,
    event: str | None = None,
    id: str | int | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> str:
    """One event's text (the reference's helper name): ``ServerSentEvent(...).encode()``."""
    return ServerSentEvent(data, event, id, retry, comment).encode()


def _encode(item: Any) -> str:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, dict):
        return ServerSentEvent(**item).encode()
    return ServerSentEvent(item).encode()


class EventSourceResponse(StreamResponse):
    """A ``text/event-stream`` response (status 200 unless told otherwise).

    Args:
        content: an async or sync iterable (or a callable returning one) of :class:`ServerSentEvent`, ``dict``
            (its keyword arguments) or data (``str``, or JSON-encodable values). A sync iterable runs in a worker
            thread.
        status: the HTTP status.
        headers: extra headers (they may override the anti-buffering ones).
        ping: seconds of silence before a keep-alive comment; ``None`` or ``0`` sends none.

    Example:
        >>> async def clock():
        ...     while True:
        ...         yield ServerSentEvent(time.strftime("%X"), event="tick")
        ...         await asyncio.sleep(1)
        >>> EventSourceResponse(clock())
    """

    __slots__ = ("ping",)

    #: Items are already framed text (``DatastarResponse`` sends the SDK's events as they are).
    framed = False

    def __init__(
        self,
        content: Any,
        status: int = 200,
        headers: HeadersInit = None,
        ping: float | None = DEFAULT_PING_SECONDS,
    ) -> None:
        super().__init__(content, status=status, content_type=EVENT_STREAM)
        self.ping = ping or None
        extra = self.headers
        extra["cache-control"] = "no-cache"
        extra["x-accel-buffering"] = "no"
        if headers:
            extra.update(headers)

    def chunks(self) -> AsyncIterator[str]:
        return _events(super().chunks(), self.ping, self.framed)


async def _events(source: AsyncIterator[Any], ping: float | None, framed: bool) -> AsyncIterator[str]:
    # The next item is awaited in its own task, kept across keep-alive timeouts (a timeout must not cancel the
    # source). Closing this generator (client gone, shutdown) cancels that task: the source sees CancelledError
    # at its await, and its finally runs at once.
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(source.__anext__())
            if ping is None:
                await asyncio.wait((pending,))
            else:
                done, _ = await asyncio.wait((pending,), timeout=ping)
                if not done:
                    yield PING_COMMENT
                    continue
            next_item, pending = pending, None
            try:
                item = next_item.result()
            except StopAsyncIteration:
                return
            if framed:
                # Plain str (the SDK's events are a str subclass; adapters send exact str/bytes types).
                yield str(item) if isinstance(item, str) else item.decode()
            else:
                yield _encode(item)
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()  # retrieved: the source's error after a disconnect is no one's concern
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


def last_event_id(request: Any) -> str | None:
    """The ``Last-Event-ID`` header a reconnecting ``EventSource`` sends (§9.2.4), for resuming a stream."""
    return request.header("last-event-id")  # type: ignore[no-any-return]


#: The reference's name for the event-stream response.
SSEStream = EventSourceResponse

__all__ = [
    "DEFAULT_PING_SECONDS",
    "EVENT_STREAM",
    "PING_COMMENT",
    "EventSourceResponse",
    "SSEStream",
    "ServerSentEvent",
    "format_sse",
    "last_event_id",
]
