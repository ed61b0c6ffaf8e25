"""The two bounded queues of an open WebSocket: the inbox between the reader task and the handler, and the send
queue between the handler and the writer task. Bounds turn a slow party into backpressure instead of memory."""

from __future__ import annotations

import asyncio
from collections import deque

from .messages import WebSocketMessage


class Inbox:
    """Received messages waiting for the handler; bounded so an app that stops reading stops the reader
    (and TCP pushes back on the peer). The final close message bypasses the bound."""

    __slots__ = ("_items", "_limit", "_readable", "_room")

    def __init__(self, limit: int) -> None:
        self._items: deque[WebSocketMessage] = deque()
        self._limit = limit
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def full(self) -> bool:
        return len(self._items) >= self._limit

    async def put(self, message: WebSocketMessage) -> None:
        while len(self._items) >= self._limit:
            self._room.clear()
            await self._room.wait()
        self._items.append(message)
        self._readable.set()

    def put_final(self, message: WebSocketMessage) -> None:
        self._items.append(message)
        self._readable.set()

    async def get(self) -> WebSocketMessage:
        while not self._items:
            self._readable.clear()
            await self._readable.wait()
        message = self._items.popleft()
        self._room.set()
        return message


class Outbox:
    """Messages waiting for the writer task, bounded in count and bytes (one message always fits)."""

    __slots__ = ("_idle", "_ready", "_room", "items", "max_bytes", "max_items", "size")

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.items: deque[tuple[str | bytes, int]] = deque()
        self.size = 0
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._room.set()
        self._idle.set()

    def fits(self, n: int) -> bool:
        return not self.items or (len(self.items) < self.max_items and self.size + n <= self.max_bytes)

    def push(self, data: str | bytes, n: int) -> None:
        self.items.append((data, n))
        self.size += n
        self._idle.clear()
        self._ready.set()

    async def wait_room(self, n: int) -> None:
        while not self.fits(n):
            self._room.clear()
            await self._room.wait()

    async def next(self) -> str | bytes:
        while not self.items:
            self._idle.set()  # nothing queued and the writer is not writing
            self._ready.clear()
            await self._ready.wait()
        data, n = self.items.popleft()
        self.size -= n
        self._room.set()
        return data

    def written(self) -> None:
        if not self.items:
            self._idle.set()

    async def drained(self) -> None:
        await self._idle.wait()

    def clear(self) -> None:
        self.items.clear()
        self.size = 0
        self._room.set()  # wake blocked senders: they see the closed state and raise
        self._idle.set()


__all__ = ["Inbox", "Outbox"]
