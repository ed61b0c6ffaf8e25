"""Rooms of WebSocket connections and broadcasting to them.

A broadcast never waits on a peer: each connection has its own bounded send queue drained by its own writer
task (see :mod:`gobstopper.websocket.connection`), so a broadcast only queues the message. A peer whose queue
is full is a slow consumer and is closed (1008); a closed peer is removed. One slow or dead peer therefore
neither stalls the others nor grows memory.

Across processes: with a message bus (``app.init_bus("redis://...")``, :mod:`gobstopper.bus`), a broadcast is
delivered to this process's connections first, then published once on the bus; every other process running a
manager of the same ``name`` delivers it to its own connections in the room. Room contents are per process:
``get_room_connections`` and friends are local, the ``get_global_*`` coroutines ask every process.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import msgspec

from .connection import WebSocket

if TYPE_CHECKING:
    from ..bus import MessageBus

_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder().decode


class WebSocketManager:
    """Connections by id and named rooms of connection ids.

    All methods are plain dictionary operations on the event loop (no awaits in between), so concurrent
    joins, leaves and broadcasts from many handlers are safe. It is not thread-safe: use it from the loop.

    Args:
        bus: the :class:`~gobstopper.bus.MessageBus` that carries broadcasts to the other processes. None (the
            default) adopts one when first needed: the bus of the app of the first connection added, else the one
            bus started in this process (``app.init_bus()``). ``False``: this process only.
        name: the manager's name on the bus: managers of the same name in different processes share rooms (two
            managers of one app need different names).

    Attributes:
        connections: connection id -> WebSocket (this process's).
        rooms: room name -> set of connection ids (this process's; empty rooms are dropped).

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

    def __init__(self, bus: MessageBus | None | bool = None, *, name: str = "default") -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a WebSocketManager name is a non-empty str, not {name!r}")
        self.connections: dict[str, Any] = {}
        self.rooms: defaultdict[str, set[str]] = defaultdict(set)
        self._memberships: dict[str, set[str]] = {}
        self.name = name
        self._channel = "ws:" + name
        self._bus: MessageBus | None = None
        self._local_only = bus is False
        self._subscription: Any = None
        self._pending: set[asyncio.Task[Any]] = set()
        if bus is not None and bus is not False and bus is not True:
            self.use_bus(bus)

    # -- the bus ------------------------------------------------------------------------------------------------

    @property
    def bus(self) -> MessageBus | None:
        """The bus broadcasts travel on (None: this process only, so far)."""
        return self._bus

    @property
    def is_global(self) -> bool:
        """Whether broadcasts reach other processes (a Redis bus is attached)."""
        bus = self._resolve_bus()
        return bus is not None and bus.distributed

    def use_bus(self, bus: MessageBus | None) -> None:
        """Carry broadcasts on ``bus`` (replacing any previous one); None: leave the bus (this process only).

        Raises:
            ValueError: another manager with this name already uses ``bus``.
        """
        if bus is self._bus:
            return
        if bus is None:
            self._detach()
            return
        names = bus._names
        other = names.get(self.name)
        if other is not None and other is not self:
            raise ValueError(
                f"two WebSocketManagers named {self.name!r} use the same bus: their rooms would mix; give each its"
                " own name (WebSocketManager(name='chat'))"
            )
        self._detach()
        names[self.name] = self
        self._bus = bus
        self._subscription = bus.subscribe(self._channel, self._on_bus_message)
        bus.respond(self._channel, self._answer)

    def _detach(self) -> None:
        bus, self._bus = self._bus, None
        if bus is None:
            return
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        bus.stop_responding(self._channel, self._answer)
        if bus._names.get(self.name) is self:
            del bus._names[self.name]

    def _resolve_bus(self, app: Any = None) -> MessageBus | None:
        bus = self._bus
        if bus is not None:
            if not bus.closed:
                return bus
            self._detach()
        if self._local_only:
            return None
        from ..bus import active_bus

        candidate = getattr(app, "bus", None) if app is not None else None
        if candidate is None or candidate.closed:
            candidate = active_bus()
        if candidate is not None:
            self.use_bus(candidate)
        return self._bus

    async def _publish(self, kind: str, target: str, message: str | bytes) -> None:
        bus = self._resolve_bus()
        if bus is not None and bus.distributed:
            await bus.publish(self._channel, _pack((kind, target, message)), local=False)

    def _on_bus_message(self, data: bytes) -> None:
        try:
            kind, target, message = _unpack(data)
        except (msgspec.DecodeError, ValueError, TypeError):
            return
        if not isinstance(message, (str, bytes)):
            return
        if kind == "r":
            members = self.rooms.get(target)
            ids = list(members) if members else []
        elif kind == "a":
            ids = list(self.connections)
        else:
            return
        if not ids:
            return
        _, others = self._offer(ids, message)
        if others:
            task = asyncio.get_running_loop().create_task(self._send_others(others, message))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _answer(self, data: bytes) -> bytes:
        question, argument = _unpack(data)
        if question == "room":
            return _pack(sorted(self.rooms.get(argument, ())))
        if question == "rooms":
            return _pack({room: len(members) for room, members in self.rooms.items()})
        return _pack(len(self.connections))

    async def _ask(self, question: str, argument: Any, timeout: float | None) -> list[Any]:
        bus = self._resolve_bus()
        if bus is None:
            return [_unpack(self._answer(_pack((question, argument))))]
        answers = await bus.request(self._channel, _pack((question, argument)), timeout)
        return [_unpack(answer) for answer in answers]

    async def get_global_room_connections(self, room: str, timeout: float | None = None) -> set[str]:
        """The ids in ``room`` in every process (global; :meth:`get_room_connections` is this process's).

        Every process on the bus answers, or is waited for at most ``timeout`` seconds (the bus's ``timeout``);
        a process that died is no longer asked. Without a distributed bus, this process's ids.
        """
        return {cid for answer in await self._ask("room", room, timeout) for cid in answer}

    async def get_global_rooms(self, timeout: float | None = None) -> dict[str, int]:
        """Every non-empty room in every process and its number of connections (global)."""
        totals: dict[str, int] = {}
        for answer in await self._ask("rooms", None, timeout):
            for room, count in answer.items():
                totals[room] = totals.get(room, 0) + int(count)
        return totals

    async def get_global_connection_count(self, timeout: float | None = None) -> int:
        """How many connections every process tracks (global; ``len(manager)`` is this process's)."""
        return sum(int(answer) for answer in await self._ask("count", None, timeout))

    def __len__(self) -> int:
        return len(self.connections)

    # -- this process's connections and rooms -------------------------------------------------------------------

    def add_connection(self, connection_id: str, websocket: WebSocket) -> None:
        """Track ``websocket`` as ``connection_id`` (an existing id is replaced, keeping its rooms)."""
        if (self._bus is None or self._bus.closed) and not self._local_only:
            self._resolve_bus(getattr(websocket, "app", None))
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
        """A copy of the ids in ``room`` in this process (local; see :meth:`get_global_room_connections`)."""
        members = self.rooms.get(room)
        return set(members) if members else set()

    def get_connection_rooms(self, connection_id: str) -> set[str]:
        """A copy of the rooms ``connection_id`` (a connection of this process) is in."""
        return set(self._memberships.get(connection_id, ()))

    async def broadcast_to_room(self, room: str, message: str | bytes) -> int:
        """Queue ``message`` (text for ``str``, binary for bytes) for every connection in ``room``, in every process
        on the bus.

        Returns how many connections *of this process* it was queued for (other processes deliver on their own).
        Closed connections are removed; a connection whose send queue is full is closed as a slow consumer (1008)
        and removed.

        Raises:
            TypeError: ``message`` is not str or bytes.
        """
        _check_message(message)
        members = self.rooms.get(room)
        delivered = await self._broadcast(list(members), message) if members else 0
        await self._publish("r", room, message)
        return delivered

    async def broadcast_to_all(self, message: str | bytes) -> int:
        """Queue ``message`` for every connection of every process (see :meth:`broadcast_to_room`)."""
        _check_message(message)
        delivered = await self._broadcast(list(self.connections), message)
        await self._publish("a", "", message)
        return delivered

    async def send_to(self, connection_id: str, message: str | bytes) -> bool:
        """Queue ``message`` for one connection of this process; ``False`` (and the connection removed) if it is
        gone."""
        return await self._broadcast([connection_id], message) == 1

    async def close_all(self, code: int = 1001, reason: str = "") -> None:
        """Close every tracked connection (``1001`` going away by default) and forget them all."""
        sockets = list(self.connections.values())
        self.connections.clear()
        self.rooms.clear()
        self._memberships.clear()
        await asyncio.gather(*(ws.close(code, reason) for ws in sockets), return_exceptions=True)

    async def _broadcast(self, ids: list[str], message: str | bytes) -> int:
        _check_message(message)
        delivered, others = self._offer(ids, message)
        if others:
            delivered += await self._send_others(others, message)
        # Let the writer tasks run between back-to-back broadcasts, so a burst does not overflow healthy queues.
        await asyncio.sleep(0)
        return delivered

    def _offer(self, ids: list[str], message: str | bytes) -> tuple[int, list[tuple[str, Any]]]:
        # Queue on every WebSocket without waiting (a full queue closes that peer); other objects are sent to by
        # the caller. Dead ids are forgotten.
        delivered = 0
        dead: list[str] = []
        others: list[tuple[str, Any]] = []
        connections = self.connections
        for connection_id in ids:
            ws = connections.get(connection_id)
            if ws is None:
                dead.append(connection_id)
            elif isinstance(ws, WebSocket):
                if ws.offer(message):
                    delivered += 1
                else:
                    dead.append(connection_id)
            else:
                others.append((connection_id, ws))  # any object with send_text/send_bytes
        for connection_id in dead:
            self.remove_connection(connection_id)
        return delivered, others

    async def _send_others(self, others: list[tuple[str, Any]], message: str | bytes) -> int:
        delivered = 0
        results = await asyncio.gather(*(_send_other(ws, message) for _, ws in others), return_exceptions=True)
        for (connection_id, _), ok in zip(others, results):
            if ok is True:
                delivered += 1
            else:
                self.remove_connection(connection_id)
        return delivered


def _check_message(message: Any) -> None:
    if not isinstance(message, (str, bytes)):
        raise TypeError(f"broadcast messages are str or bytes, not {type(message).__name__}")


async def _send_other(ws: Any, message: str | bytes) -> bool:
    send = ws.send_text if isinstance(message, str) else ws.send_bytes
    await asyncio.wait_for(send(message), 10.0)
    return True
