"""WebSocket echo, three ways, as the reference documents them (API reference and app-core guide).

Run it from this directory with any of::

    gobstopper run ws_echo:app                   # granian, RSGI
    granian --interface asgi ws_echo:app         # granian, ASGI
    uvicorn ws_echo:app                          # uvicorn, ASGI

then ``python -m websockets ws://127.0.0.1:8000/ws/echo``.
"""

from __future__ import annotations

from gobstopper import Gobstopper

app = Gobstopper(__name__)


# The websocket module's "Simple echo server".
@app.websocket("/ws/echo")
async def echo(websocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message.type == "close":
            break
        if message.type == "text":
            await websocket.send_text(f"Echo: {message.data}")


# ``Gobstopper.websocket()``'s "Basic WebSocket echo".
@app.websocket("/ws/echo/iter")
async def echo_handler(websocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(f"Echo: {message}")


# The app-core guide's echo: ``receive_text()`` raises WebSocketDisconnect when the client leaves.
@app.websocket("/ws/echo/text")
async def websocket_echo(websocket):
    await websocket.accept()
    while True:
        message = await websocket.receive_text()
        await websocket.send_text(f"Echo: {message}")
