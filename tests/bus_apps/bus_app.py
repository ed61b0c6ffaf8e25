"""The app of tests/test_bus_processes.py: the reference's chat room (WebSocketManager) and SSE topics, on the
bus of ``GOBSTOPPER_BUS_URL``. Every process answers the ``node`` request with its pid, so the test can tell when
all of them are listening."""

from __future__ import annotations

import os
from typing import Any

from gobstopper import Gobstopper
from gobstopper.websocket import WebSocketManager

app = Gobstopper(__name__)
bus = app.init_bus()  # GOBSTOPPER_BUS_URL, GOBSTOPPER_BUS_PREFIX
manager = WebSocketManager()
PID = str(os.getpid())


@app.on_startup
def answer_node_requests() -> None:
    bus.respond("node", lambda data: PID.encode())


@app.get("/")
async def index(request: Any) -> Any:
    return {"pid": PID, "connected": bus.connected}


@app.get("/nodes")
async def nodes(request: Any) -> Any:
    return sorted(answer.decode() for answer in await bus.request("node"))


@app.websocket("/ws/<room>")
async def chat(websocket: Any, room: str) -> None:
    conn_id = websocket.query_params.get("id")
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)
    try:
        await websocket.send_text("joined " + PID)
        async for message in websocket:
            if message.type == "text":
                await manager.broadcast_to_room(room, message.data)
    finally:
        manager.remove_connection(conn_id)


@app.post("/broadcast/<room>")
async def broadcast(request: Any, room: str) -> Any:
    text = (await request.get_data()).decode()
    local = await (manager.broadcast_to_all(text) if room == "*" else manager.broadcast_to_room(room, text))
    return {"local": local}


@app.get("/rooms/<room>")
async def room_members(request: Any, room: str) -> Any:
    return {
        "pid": PID,
        "local": sorted(manager.get_room_connections(room)),
        "global": sorted(await manager.get_global_room_connections(room)),
    }


@app.get("/events/<topic>")
async def events(request: Any, topic: str) -> Any:
    return bus.topic(topic).stream(request, ping=None)


@app.post("/publish/<topic>")
async def publish(request: Any, topic: str) -> Any:
    text = (await request.get_data()).decode()
    return {"id": await bus.topic(topic).publish(text, event="note")}
