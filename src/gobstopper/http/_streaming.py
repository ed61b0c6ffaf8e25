"""Sending a streamed body while watching for the client to leave; shared by both adapters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


async def _write_all(chunks: AsyncIterator[Any], write: Callable[[Any], Awaitable[None]]) -> None:
    try:
        async for chunk in chunks:
            if chunk:
                await write(chunk)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def pump(
    chunks: AsyncIterator[Any],
    write: Callable[[Any], Awaitable[None]],
    disconnected: Callable[[], Awaitable[Any]],
) -> bool:
    """Write every chunk with the adapter's ``write``, unless the client disconnects first.

    On a disconnect the source is cancelled and closed.

    One disconnect watcher per response, always cancelled at the end (RSGI-NOTES G12: a stale watcher could
    steal the next request's notification on a keep-alive connection).

    Returns:
        True when the whole body was sent, False when the client left.
    """
    sender = asyncio.ensure_future(_write_all(chunks, write))
    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait((sender, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not sender.done():
            sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if sender.cancelled():
        return False
    with contextlib.suppress(asyncio.CancelledError):
        await sender  # re-raises what the source raised
    return not sender.cancelled()
