"""Chat rooms with ``WebSocketManager``: the reference's "Basic chat room implementation", unchanged, plus its
room statistics as an HTTP endpoint.

Run it from this directory (``gobstopper run ws_chat:app``, ``uvicorn ws_chat:app``...), then connect two
clients to ``ws://127.0.0.1:8000/ws/chat/lobby`` and type.
"""

from __future__ import annotations

import uuid

from gobstopper import Gobstopper
from gobstopper.websocket import WebSocketManager

app = Gobstopper()
manager = WebSocketManager()


@app.websocket("/ws/chat/<room>")
async def chat_handler(websocket, room):
    conn_id = str(uuid.uuid4())
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)

    try:
        while True:
            message = await websocket.receive()
            if message.type == "close":
                break
            if message.type == "text":
                await manager.broadcast_to_room(room, message.data)
    finally:
        manager.remove_connection(conn_id)


def get_room_stats(room: str) -> dict:
    connections = manager.get_room_connections(room)
    return {"room": room, "active_users": len(connections), "connection_ids": list(connections)}


@app.get("/rooms/<room>")
async def room_stats(request, room):
    return get_room_stats(room)
