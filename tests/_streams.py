"""Driving one streamed response in process, over ASGI or the fake RSGI protocol, with a disconnect on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gobstopper.testing import FakeHTTPProtocol, RSGIHeaders, RSGIScope


class StreamRun:
    """What the client saw: the body so far, whether the response ended normally, and a way to leave."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.ended = False  # the body was completed (ASGI more_body=False / the handler returned on RSGI)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.leave = asyncio.Event()


async def run_asgi(
    app: Any, path: str, headers: list[tuple[str, str]] = (), until: Callable[[StreamRun], bool] | None = None
) -> StreamRun:
    """Serve ``path`` through the ASGI entry; the client disconnects once ``until(run)`` holds."""
    run = StreamRun()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await run.leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            run.status = message["status"]
            run.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            run.body += message.get("body", b"")
            if not message.get("more_body", False):
                run.ended = True
        if until is not None and until(run):
            run.leave.set()

    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")] + [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return run


async def run_rsgi(
    app: Any, path: str, headers: list[tuple[str, str]] = (), until: Callable[[StreamRun], bool] | None = None
) -> tuple[StreamRun, FakeHTTPProtocol]:
    """Serve ``path`` through the RSGI entry with Gobstopper's fake Granian protocol."""
    run = StreamRun()
    proto = FakeHTTPProtocol()
    path_only, _, query = path.partition("?")
    scope = RSGIScope("GET", path_only, query, RSGIHeaders([("host", "test"), *headers]))

    async def watch() -> None:
        while until is not None:
            rec = proto.response
            if rec is not None:
                run.body = rec.body
                if until(run):
                    proto.disconnect()
                    return
            await asyncio.sleep(0.005)

    watcher = asyncio.ensure_future(watch())
    try:
        await app.__rsgi__(scope, proto)
    finally:
        watcher.cancel()
    rec = proto.response
    assert rec is not None
    run.status, run.headers, run.body, run.ended = rec.status, dict(rec.headers), rec.body, True
    return run, proto
