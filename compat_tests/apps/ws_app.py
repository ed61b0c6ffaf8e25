"""WebSocket scenarios: echo, handshake facts, refusals, close codes, limits, liveness, rooms and broadcast.

Mounted sub-apps carry their own ``app.config`` limits: ``/strict`` (1 KiB messages, an Origin allow-list),
``/hb`` (a 0.3 s heartbeat), ``/idle`` (a 0.3 s idle timeout), ``/slow`` (a tiny send queue and a short send
timeout).

A connection opened with ``?key=<k>`` is kept in ``sockets``; ``GET /closes/<k>`` tells the close code and reason
its server-side ``WebSocket`` recorded (what the framework did, even where the peer cannot be told: RSGI).
"""

from __future__ import annotations

import asyncio
import os

from gobstopper import Blueprint, Gobstopper, abort
from gobstopper.websocket import WebSocketDisconnect, WebSocketManager

app = Gobstopper(__name__)
manager = WebSocketManager()
results: dict[str, object] = {}
sockets: dict[str, object] = {}


def keep(websocket) -> None:
    key = websocket.query_params.get("key")
    if key:
        sockets[key] = websocket


@app.get("/closes/<key>")
async def closes(request, key):
    websocket = sockets.get(key)
    if websocket is None:
        return {"known": False}
    return {"known": True, "closed": websocket.closed, "code": websocket.close_code, "reason": websocket.close_reason}


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}


@app.get("/ping")
async def ping(request):
    return "pong"


@app.websocket("/ws/echo")
async def echo(websocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message.data)  # text stays text, bytes stay bytes


@app.websocket("/ws/info/<int:n>")
async def info(websocket, n):
    await websocket.accept()
    await websocket.send_json(
        {
            "n": n,
            "path": websocket.path,
            "token": websocket.query_params.get("token"),
            "x_test": websocket.headers.get("x-test"),
            "cookie": websocket.cookies.get("c"),
            "client_ip": websocket.client_ip,
        }
    )
    data = await websocket.receive_json()
    await websocket.send_json({"got": data})


@app.websocket("/ws/close-code")
async def close_code(websocket):
    await websocket.accept()
    keep(websocket)
    await websocket.send_text("bye soon")
    await websocket.close(4001, "bye")


@app.websocket("/ws/raise-before")
async def raise_before(websocket):
    raise ValueError("boom before accept")


@app.websocket("/ws/return-before")
async def return_before(websocket):
    return None


@app.websocket("/ws/close-before")
async def close_before(websocket):
    await websocket.close(code=1008)  # the reference's token check


@app.websocket("/ws/abort")
async def abort_before(websocket):
    if websocket.query_params.get("token") != "secret":
        abort(401)
    await websocket.accept()
    await websocket.send_text("welcome")


@app.websocket("/ws/raise-after")
async def raise_after(websocket):
    await websocket.accept()
    keep(websocket)
    await websocket.send_text("about to fail")
    raise ValueError("boom after accept")


@app.websocket("/ws/return-after")
async def return_after(websocket):
    await websocket.accept()
    keep(websocket)
    await websocket.send_text("done")


@app.websocket("/ws/big-text")
async def big_text(websocket):
    await websocket.accept()
    size = int(websocket.query_params.get("size", "300000"))
    await websocket.send_text(("é" + "x" * 9) * (size // 10))
    await websocket.receive()


@app.websocket("/ws/disconnect")
async def disconnect_probe(websocket):
    await websocket.accept()
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect as exc:
        results["disconnect"] = exc.code


@app.get("/results")
async def get_results(request):
    return results


# -- rooms ----------------------------------------------------------------------------------------------------


@app.websocket("/ws/room/<room>")
async def room_member(websocket, room):
    conn_id = websocket.query_params.get("id")
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)
    try:
        async for message in websocket:
            await manager.broadcast_to_room(room, f"{conn_id}:{message.data}")
    finally:
        manager.remove_connection(conn_id)


@app.post("/broadcast/<room>")
async def broadcast(request, room):
    n = int(request.args.get("n", ["1"])[0])
    queued = 0
    for i in range(n):
        queued += await manager.broadcast_to_room(room, f"m{i}")
    return {"queued": queued}


@app.get("/stats")
async def stats(request):
    return {
        "connections": len(manager.connections),
        "closed_in_manager": sum(1 for ws in manager.connections.values() if ws.closed),
        "rooms": {room: len(ids) for room, ids in manager.rooms.items()},
    }


# -- mounted sub-apps with their own limits ------------------------------------------------------------------


def _echo_app(name: str, config: dict[str, object]) -> Gobstopper:
    sub = Gobstopper(name)
    sub.config.update(config)

    @sub.websocket("/ws/echo")
    async def sub_echo(websocket):
        await websocket.accept()
        keep(websocket)
        try:
            async for message in websocket:
                await websocket.send(message.data)
        finally:
            results[f"{name}_close_code"] = websocket.close_code

    return sub


strict = _echo_app(
    "strict",
    {"MAX_WS_MESSAGE_BYTES": 1024, "WS_ALLOWED_ORIGINS": ["https://good.example"], "WS_ALLOW_MISSING_ORIGIN": False},
)
app.mount("/strict", strict)
app.mount("/hb", _echo_app("hb", {"WS_HEARTBEAT_INTERVAL": 0.3, "WS_HEARTBEAT_TIMEOUT": 0.3}))
app.mount("/idle", _echo_app("idle", {"WS_IDLE_TIMEOUT": 0.3}))

slow = Gobstopper("slow")
slow.config.update({"WS_SEND_QUEUE_SIZE": 4, "WS_SEND_TIMEOUT": 0.5, "WS_CLOSE_TIMEOUT": 0.5})


@slow.websocket("/ws/flood")
async def flood(websocket):
    await websocket.accept()
    sent = 0
    try:
        while sent < 3000:  # about 190 MiB: a client that never reads must be cut off long before
            await websocket.send_bytes(b"x" * 65536)
            sent += 1
    except WebSocketDisconnect as exc:
        results["flood"] = {"code": exc.code, "reason": exc.reason, "sent": sent}


app.mount("/slow", slow)

bp = Blueprint("bpws", url_prefix="/bp")


@bp.websocket("/ws/<int:x>")
async def bp_ws(websocket, x):
    await websocket.accept()
    await websocket.send_text(f"bp {x * 2}")
    await asyncio.sleep(0)


app.register_blueprint(bp)
