"""Raw ASGI hello-world: the ceiling under uvicorn and ``granian --interface asgi``."""

from __future__ import annotations

from typing import Any

PLAINTEXT = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'


def _start(content_type: bytes, body: bytes) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
    }


START_PLAIN = _start(b"text/plain", PLAINTEXT)
START_JSON = _start(b"application/json", JSON)
START_404 = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}
BODY_PLAIN = {"type": "http.response.body", "body": PLAINTEXT}
BODY_JSON = {"type": "http.response.body", "body": JSON}
BODY_EMPTY = {"type": "http.response.body", "body": b""}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app with ``/plaintext`` and ``/json``; lifespan is accepted and ignored.

    Args:
        scope: ASGI scope.
        receive: ASGI receive callable.
        send: ASGI send callable.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/plaintext":
        await send(START_PLAIN)
        await send(BODY_PLAIN)
    elif path == "/json":
        await send(START_JSON)
        await send(BODY_JSON)
    else:
        await send(START_404)
        await send(BODY_EMPTY)
