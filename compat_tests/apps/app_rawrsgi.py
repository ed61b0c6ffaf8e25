"""A raw RSGI app (no Gobstopper) exercising protocol corners, to hold the fake protocol to real Granian."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HELLO = str(HERE / "static" / "hello.txt")


async def app(scope: Any, proto: Any) -> None:
    p = scope.path
    if p == "/bytes":
        proto.response_bytes(200, [("content-type", "text/plain"), ("X-Mixed-Case", "M")], b"hello")
    elif p == "/str":
        proto.response_str(201, [("content-type", "text/plain; charset=utf-8")], "héllo")
    elif p == "/empty":
        proto.response_empty(200, [("x-a", "1")])
    elif p == "/empty-cl":
        proto.response_empty(200, [("content-length", "5")])
    elif p == "/204":
        proto.response_bytes(204, [("content-length", "3")], b"abc")
    elif p == "/304":
        proto.response_empty(304, [("content-length", "7"), ("etag", '"e"')])
    elif p == "/204-empty-cl":
        proto.response_empty(204, [("content-length", "5")])
    elif p == "/304-bytes":
        proto.response_bytes(304, [("content-length", "3")], b"abc")
    elif p == "/304-bytes-no-cl":
        proto.response_bytes(304, [], b"abc")
    elif p == "/bytes-cl":
        proto.response_bytes(200, [("content-length", "5")], b"hello")
    elif p == "/file":
        proto.response_file(200, [("content-type", "text/plain")], HELLO)
    elif p == "/file-cl":
        proto.response_file(200, [("content-length", str(Path(HELLO).stat().st_size))], HELLO)
    elif p == "/file-missing":
        proto.response_file(200, [("content-type", "text/plain"), ("x-a", "1")], HELLO + ".missing")
    elif p == "/range":
        proto.response_file_range(206, [("content-length", "3"), ("content-range", "bytes 2-4/13")], HELLO, 2, 5)
    elif p == "/stream":
        t = proto.response_stream(200, [("content-type", "text/plain")])
        await t.send_bytes(b"ab")
        await t.send_str("cd")
        await t.send_bytes(b"")
    elif p == "/none":
        return
    elif p == "/raise":
        raise ValueError("raised on purpose")
    elif p == "/raise-after":
        proto.response_bytes(200, [], b"sent")
        raise ValueError("raised after responding")
    elif p == "/crlf":
        proto.response_bytes(200, [("x-ok", "1"), ("x-bad", "v\r\ninjected: 1"), ("x bad", "2"), ("x-ok2", "2")], b"ok")
    elif p == "/cookies":
        proto.response_bytes(200, [("set-cookie", "a=1"), ("Set-Cookie", "b=2")], b"ok")
    elif p == "/twice":
        proto.response_bytes(200, [], b"first")
        proto.response_str(201, [], "second")
    elif p == "/stream-after":
        proto.response_bytes(200, [], b"first")
        try:
            proto.response_stream(200, [])
        except RuntimeError as exc:
            print("stream-after:", exc)
    elif p == "/read-twice":
        body = await proto()
        kinds = []
        try:
            await proto()
        except RuntimeError as exc:
            kinds.append(f"{type(exc).__mro__[1].__name__}:{exc}")
        proto.response_str(200, [], f"{len(body)} {kinds}")
    elif p == "/iter":
        chunks = [c async for c in proto]
        proto.response_str(200, [], f"{sum(map(len, chunks))} last={chunks[-1]!r}")
    elif p.startswith("/scope"):
        h = scope.headers
        info = {
            "path": scope.path,
            "qs": scope.query_string,
            "method": scope.method,
            "get": h.get("X-Dup"),
            "get_all": h.get_all("x-dup"),
            "items_dup": [v for k, v in h.items() if k == "x-dup"],
            "keys_has_dup_once": list(h.keys()).count("x-dup"),
            "contains": "X-DUP" in h,
            "proto": scope.proto,
            "http_version": scope.http_version,
            "rsgi_version": scope.rsgi_version,
            "authority": scope.authority,
            "scheme": scope.scheme,
        }
        proto.response_str(200, [("content-type", "text/plain")], repr(info))
    else:
        proto.response_empty(404, [])
