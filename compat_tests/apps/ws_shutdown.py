"""A WebSocket that stays open until the server stops (issue 17, docs/hardening.md row 52).

``/ws`` accepts, says ``ready`` and echoes until the peer or the server closes. At shutdown each connection's
server-side close code and reason are appended to ``COMPAT_SHUTDOWN_FILE`` (one JSON line per connection), so a
test can read what the framework recorded after the server exited.
"""

from __future__ import annotations

import json
import os
import time

from gobstopper import Gobstopper, Response

app = Gobstopper(__name__)


def record(entry: dict[str, object]) -> None:
    path = os.environ.get("COMPAT_SHUTDOWN_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


@app.get("/health")
async def health(request):
    return Response("ok", content_type="text/plain; charset=utf-8")


@app.websocket("/ws")
async def ws(websocket):
    await websocket.accept()
    await websocket.send_text("ready")
    try:
        async for message in websocket:
            await websocket.send_text(str(message))
    finally:
        record({"event": "closed", "code": websocket.close_code, "reason": websocket.close_reason,
                "at": time.time()})  # fmt: skip


@app.on_shutdown
def shutdown_ran() -> None:
    record({"event": "shutdown", "at": time.time()})
