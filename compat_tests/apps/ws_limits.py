"""An echo WebSocket with a small message-size limit, and a record of what its handler was given.

Used by ``test_compat_websocket_frames.py`` (hand-built frames over a raw socket, docs/hardening.md row 48): every
connection names itself with ``?id=``; ``GET /received/<id>`` tells what the handler received on it (type and
size of each message, never the content) and the close code it ended with, so a test can assert that an
oversize, invalid or inflated message never reached the handler.
"""

from __future__ import annotations

import os

from gobstopper import Gobstopper

#: The framework limit under test (``MAX_WS_MESSAGE_BYTES``): far below every server's own limit.
LIMIT = 1024

app = Gobstopper(__name__)
app.config.update({"MAX_WS_MESSAGE_BYTES": LIMIT})

received: dict[str, dict[str, object]] = {}


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}


@app.websocket("/ws/echo")
async def echo(websocket):
    conn_id = websocket.query_params.get("id") or "anonymous"
    record: dict[str, object] = {"messages": [], "close_code": None, "done": False}
    received[conn_id] = record
    await websocket.accept()
    messages: list[list[object]] = record["messages"]  # type: ignore[assignment]
    try:
        async for message in websocket:
            data = message.data
            size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
            messages.append([message.type, size])
            await websocket.send(data)
    finally:
        record["close_code"] = websocket.close_code
        record["done"] = True


@app.get("/received/<conn_id>")
async def get_received(request, conn_id):
    return received.get(conn_id) or {"messages": [], "close_code": None, "done": False, "unknown": True}
