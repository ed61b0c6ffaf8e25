"""A JSON request/response API over one WebSocket: the reference's "JSON message handling" example.

Send ``{"op": "add", "args": [1, 2]}`` and get ``{"op": "add", "result": 3}`` back. Run it from this directory
(``gobstopper run ws_json_api:app``, ``uvicorn ws_json_api:app``...).
"""

from __future__ import annotations

import json

from gobstopper import Gobstopper

app = Gobstopper(__name__)

OPERATIONS = {
    "add": lambda args: sum(args),
    "upper": lambda args: " ".join(str(a) for a in args).upper(),
    "count": lambda args: len(args),
}


async def process_request(data: dict) -> dict:
    op = data.get("op")
    if op not in OPERATIONS:
        return {"op": op, "error": f"unknown operation {op!r}"}
    return {"op": op, "result": OPERATIONS[op](data.get("args", []))}


@app.websocket("/ws/api")
async def api_handler(websocket):
    await websocket.accept()
    async for message in websocket:
        if message.type == "text":
            data = json.loads(message.data)
            result = await process_request(data)
            await websocket.send_text(json.dumps(result))
