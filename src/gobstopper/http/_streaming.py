"""Sending a streamed body while watching for the client to leave; shared by both adapters.

Rules (issue 11 item 5, issue 12 item 2):

1. The client is gone only when the server says so: its disconnect signal (RSGI ``client_disconnect()``, ASGI
   ``http.disconnect``) fired, or a write was refused by the transport. An exception raised by the *source* (the
   app's generator) is never taken for a disconnect, whatever its type.
2. A source that raises after the head went out ends the response as a truncated body: the adapter does not send
   the terminating chunk (RFC 9112 §7.1) where its protocol lets it, and the exception is logged once, here.
3. Nothing outlives the response: the source is closed (its ``finally`` runs) on every outcome, and the frames of
   a failure's traceback are cleared after logging, so no traceback keeps the server's transport alive.
4. Streams still open when the app shuts down are ended (``end_streams``), as a disconnect would end them.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

#: ``pump``'s outcomes.
COMPLETE = "complete"
DISCONNECTED = "disconnected"
FAILED = "failed"
STOPPED = "stopped"

_logger = logging.getLogger("gobstopper.stream")

#: The stop signals of the streams each app is sending now (ended by ``end_streams`` at shutdown).
_open_streams: weakref.WeakKeyDictionary[Any, set[asyncio.Future[None]]] = weakref.WeakKeyDictionary()


class _TransportClosed(Exception):
    """The server refused a write: the connection is gone."""


def _exact(chunk: Any) -> str | bytes:
    # Adapters hand exact str/bytes to the server (Granian's send_str/send_bytes, ASGI bodies).
    if isinstance(chunk, str):
        return str(chunk)  # Markup, DatastarEvent...
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a streamed chunk must be str or bytes, not {type(chunk).__name__}")


async def _write_all(chunks: AsyncIterator[Any], write: Callable[[Any], Awaitable[None]]) -> None:
    try:
        async for chunk in chunks:
            kind = type(chunk)
            if kind is not str and kind is not bytes:
                chunk = _exact(chunk)  # a TypeError here is the source's fault: logged, not a disconnect
            if chunk:
                try:
                    await write(chunk)
                except Exception as exc:  # raised by the server's transport, not by the app's source
                    raise _TransportClosed(repr(exc)) from None
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def pump(
    chunks: AsyncIterator[Any],
    write: Callable[[Any], Awaitable[None]],
    disconnected: Callable[[], Awaitable[Any]],
    app: Any = None,
) -> str:
    """Write every chunk with the adapter's ``write``, unless the client disconnects first.

    Args:
        chunks: the response's body source (``StreamResponse.chunks()``).
        write: the adapter's write of one ``str``/``bytes`` chunk; an exception from it means the connection is
            gone.
        disconnected: the server's disconnect signal (an awaitable that resolves when the client left).
        app: the app serving the response: its logger reports a failed source, and its shutdown ends the stream.

    One disconnect watcher per response, always cancelled at the end (docs/rsgi-notes.md, G12: a stale watcher could
    steal the next request's notification on a keep-alive connection).

    Returns:
        ``COMPLETE`` when the whole body was written and ``STOPPED`` when the app shut down mid-stream (the adapter
        ends the body normally in both cases); ``DISCONNECTED`` when the client left; ``FAILED`` when the source
        raised (logged here; the adapter must end the response without its terminating chunk).
    """
    loop = asyncio.get_running_loop()
    sender = loop.create_task(_write_all(chunks, write))
    watcher = asyncio.ensure_future(disconnected())
    stop: asyncio.Future[None] = loop.create_future()
    streams = _open_streams.setdefault(app, set()) if app is not None else None
    if streams is not None:
        streams.add(stop)
    watcher_fired = False
    try:
        await asyncio.wait((sender, watcher, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if streams is not None:
            streams.discard(stop)
        watcher_fired = watcher.done()
        watcher.cancel()
        if not sender.done():
            sender.cancel()  # the source sees CancelledError at its await and its finally runs, now
        await asyncio.wait((sender, watcher))
        if not watcher.cancelled():
            watcher.exception()  # retrieved: a failing disconnect signal is no concern of the response
    if sender.cancelled():
        return STOPPED if stop.done() and not watcher_fired else DISCONNECTED
    exc = sender.exception()
    if exc is None:
        return COMPLETE
    if isinstance(exc, _TransportClosed):
        return DISCONNECTED
    logger = getattr(app, "logger", None) or _logger
    logger.error("streamed response failed after its head was sent; the body is truncated", exc_info=exc)
    traceback.clear_frames(exc.__traceback__)  # rule 3: the frames held the transport
    return FAILED


def end_streams(app: Any) -> int:
    """End every stream ``app`` is sending (its generators' ``finally`` run); returns how many were open.

    Called by the app's shutdown, so open event streams end cleanly instead of holding the server's drain.
    """
    streams = _open_streams.get(app)
    if not streams:
        return 0
    count = 0
    for stop in list(streams):
        if not stop.done():
            stop.set_result(None)
            count += 1
    return count
