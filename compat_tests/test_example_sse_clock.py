"""examples/sse_clock.py on every real server: ticks with ids, and resumption from Last-Event-ID."""

from __future__ import annotations

import re
import socket
import time

import pytest

from compat_tests.harness import Target

APP = "sse_clock:app"


def _ticks(port: int, count: int, last_id: str | None = None) -> list[tuple[int, str]]:
    extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET /clock?interval=0.05 HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
        data = b""
        deadline = time.monotonic() + 5
        pattern = re.compile(rb"id: (\d+)\nevent: tick\ndata: (\d\d:\d\d:\d\d)\n\n")
        while len(pattern.findall(data)) < count and time.monotonic() < deadline:
            data += sock.recv(65536)
    assert b"content-type: text/event-stream; charset=utf-8" in data.lower(), data
    return [(int(n), t.decode()) for n, t in pattern.findall(data)][:count]


def test_the_page_listens_with_event_source(target: Target) -> None:
    r = target.get("/")
    assert r.status == 200 and 'new EventSource("/clock")' in r.text


@pytest.mark.real_servers_only
def test_ticks_arrive_with_ids_and_resume_after_the_last_one(target: Target) -> None:
    port = target.server.port  # type: ignore[attr-defined]
    assert [n for n, _ in _ticks(port, 3)] == [1, 2, 3]
    assert [n for n, _ in _ticks(port, 2, last_id="41")] == [42, 43]
