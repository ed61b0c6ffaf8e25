"""Rooms of WebSocket connections and broadcasting to them.

A broadcast never waits on a peer: each connection has its own bounded send queue drained by its own writer
task (see :mod:`gobstopper.websocket.connection`), so a broadcast only queues the message. A peer whose queue
is full is a slow consumer and is closed (1008); a closed peer is removed. One slow or dead peer therefore
neither stalls the others nor grows memory.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from .connection import WebSocket


class WebSocketManager:
    """Connections by id and named rooms of connection ids.

    All methods are plain dictionary operations on the event loop (no awaits in between), so concurrent
    joins, leaves and broadcasts from many handlers are safe. It is not thread-safe: use it from the loop.

    Attributes:
        connections: connection id -> WebSocket.
        rooms: room name -> set of connection ids (empty rooms are dropped).

    Example:
        >>> manager = WebSocketManager()
        >>> @app.websocket("/ws/chat/<room>")
        ... async def chat(websocket, room):
        ...     conn_id = str(uuid.uuid4())
        ...     await websocket.accept()
        ...     manager.add_connection(conn_id, websocket)
        ...     manager.join_room(conn_id, room)
        ...     try:
        ...         async for message in websocket:
        ...             await manager.broadcast_to_room(room, message.data)
        ...     finally:
        ...         manager.remove_connection(conn_id)
    """

    def __init__(self) -> None:
        self.connections: dict[str, Any] = {}
        self.rooms: defaultdict[str, set[str]] = defaultdict(set)
        self._memberships: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self.connections)

    def add_connection(self, connection_id: str, websocket: WebSocket) -> None:
        """Track ``websocket`` as ``connection_id`` (an existing id is replaced, keeping its rooms)."""
        self.connections[connection_id] = websocket
        self._memberships.setdefault(connection_id, set())

    def remove_connection(self, connection_id: str) -> None:
        """Forget a connection and its room memberships (harmless if unknown)."""
        self.connections.pop(connection_id, None)
        for room in self._memberships.pop(connection_id, ()):
            members = self.rooms.get(room)
            if members is not None:
                members.discard(connection_id)
                if not members:
                    del self.rooms[room]

    def join_room(self, connection_id: str, room: str) -> None:
        """Add a tracked connection to ``room`` (created on first join); unknown ids are ignored."""
        if connection_id not in self.connections:
            return
        self.rooms[room].add(connection_id)
        self._memberships[connection_id].add(room)

    def leave_room(self, connection_id: str, room: str) -> None:
        """Remove a connection from ``room`` only (harmless if it is not there)."""
        members = self.rooms.get(room)
        if members is not None:
            members.discard(connection_id)
            if not members:
                del self.rooms[room]
        rooms = self._memberships.get(connection_id)
        if rooms is not None:
            rooms.discard(room)

    def get_room_connections(self, room: str) -> set[str]:
        """A copy of the ids in ``room`` (empty if there is no such room)."""
        members = self.rooms.get(room)
        return set(members) if members else set()

    def get_connection_rooms(self, connection_id: str) -> set[str]:
        """A copy of the rooms ``connection_id`` is in."""
        return set(self._memberships.get(connection_id, ()))

    async def broadcast_to_room(self, room: str, message: str | bytes) -> int:
        """Queue ``message`` (text for ``str``, binary for bytes) for every connection in ``room``.

        Returns how many connections it was queued for. Closed connections are removed; a connection whose
        send queue is full is closed as a slow consumer (1008) and removed.
        """
        members = self.rooms.get(room)
        if not members:
            return 0
        return await self._broadcast(list(members), message)

    async def broadcast_to_all(self, message: str | bytes) -> int:
        """Queue ``message`` for every tracked connection (see :meth:`broadcast_to_room`)."""
        return await self._broadcast(list(self.connections), message)

    async def send_to(self, connection_id: str, message: str | bytes) -> bool:
        """Queue ``message`` for one connection; ``False`` (and the connection removed) if it is gone."""
        return await self._broadcast([connection_id], message) == 1

    async def close_all(self, code: int = 1001, reason: str = "") -> None:
        """Close every tracked connection (``1001`` going away by default) and forget them all."""
        sockets = list(self.connections.values())
        self.connections.clear()
        self.rooms.clear()
        self._memberships.clear()
        await asyncio.gather(*(ws.close(code, reason) for ws in sockets), return_exceptions=True)

    async def _broadcast(self, ids: list[str], message: str | bytes) -> int:
        if not isinstance(message, (str, bytes)):
            raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")
        delivered = 0
        dead: list[str] = []
        others: list[tuple[str, Any]] = []
        connections = self.connections
        for connection_id in ids:
            ws = connections.get(connection_id)
            if ws is None:
                dead.append(connection_id)
            elif isinstance(ws, WebSocket):
                if ws.offer(message):  # queues without waiting; a full queue closes that peer
                    delivered += 1
                else:
                    dead.append(connection_id)
            else:
                others.append((connection_id, ws))  # any object with send_text/send_bytes
        if others:
            results = await asyncio.gather(*(_send_other(ws, message) for _, ws in others), return_exceptions=True)
            for (connection_id, _), ok in zip(others, results):
                if ok is True:
                    delivered += 1
                else:
                    dead.append(connection_id)
        for connection_id in dead:
            self.remove_connection(connection_id)
        # Let the writer tasks run between back-to-back broadcasts, so a burst does not overflow healthy queues.
        await asyncio.sleep(0)
        return delivered


async def _send_other(ws: Any, message: str | bytes) -> bool:
    send = ws.send_text if isinstance(message, str) else ws.send_bytes
    await asyncio.wait_for(send(message), 10.0)
    return True
