"""A hand-written app speaking ASGI and RSGI directly (no Gobstopper): it checks the harness itself."""

from __future__ import annotations

from typing import Any

ROUTES: dict[str, tuple[int, list[tuple[str, str]], list[bytes]]] = {
    "/hello": (200, [("content-type", "text/plain")], [b"hello"]),
    "/chunks": (200, [("content-type", "text/plain")], [b"ab", b"cd", b"ef"]),
    "/cookies": (200, [("set-cookie", "a=1"), ("set-cookie", "b=2")], [b"ok"]),
}


def _route(path: str, host: str | None) -> tuple[int, list[tuple[str, str]], list[bytes]]:
    if path == "/host":
        return 200, [("content-type", "text/plain")], [(host or "-").encode()]
    return ROUTES.get(path, (404, [("content-type", "text/plain")], [b"not found"]))


class SelfTestApp:
    def __init__(self) -> None:
        self.started = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    self.started = True
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        hosts = [v.decode() for k, v in scope["headers"] if k == b"host"]
        status, headers, chunks = _route(scope["path"], ",".join(hosts) or None)
        if len(chunks) == 1:
            headers = [*headers, ("content-length", str(len(chunks[0])))]
        raw = [(k.encode(), v.encode()) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        for i, chunk in enumerate(chunks):
            body = b"" if scope["method"] == "HEAD" else chunk
            await send({"type": "http.response.body", "body": body, "more_body": i < len(chunks) - 1})

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        status, headers, chunks = _route(scope.path, ",".join(scope.headers.get_all("host")) or None)
        if len(chunks) == 1:
            proto.response_bytes(status, headers, chunks[0])
            return
        transport = proto.response_stream(status, headers)
        for chunk in chunks:
            await transport.send_bytes(chunk)

    def __rsgi_init__(self, loop: Any) -> None:
        self.started = True


app = SelfTestApp()
