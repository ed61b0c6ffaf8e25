"""SIGTERM with a WebSocket open (issue 17; docs/hardening.md row 52), on each real server, with a real client.

Each test starts its own server (it is stopped by the test), opens ``/ws`` of ``apps/ws_shutdown.py``, sends SIGTERM
to the server's main process and reads until the connection ends. Pinned outcomes:

- the client always receives a close frame before the connection ends (never 1006): 1001 "server shutting down"
  under Granian ASGI; a close frame without a code (1005) under Granian RSGI, which cannot send codes after
  ``accept()``; 1012 under uvicorn, which closes WebSockets itself before the app hears of the shutdown;
- the framework records the close it made (1001 under both Granian interfaces, 1012 from uvicorn's close);
- the app's ``on_shutdown`` handlers run after the WebSocket was closed, and the server exits.

Under Granian this needs the adapters' SIGTERM hand-over (``adapters/_signals.py``): Granian's own handler drops
open WebSockets without a frame (see ``docs/deployment.md``, "Shutdown", for the raw-RSGI reproduction).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from compat_tests.harness import NATIVE_VARIANTS, REAL_SERVERS, RealServer, ServerKey

APP = "ws_shutdown:app"

EXPECTED = {
    # server: (codes the client may see, the code the framework records)
    "uvicorn": ({1012}, 1012),
    "granian-asgi": ({1001}, 1001),
    "granian-rsgi": ({1005}, 1001),
}


@pytest.fixture(params=REAL_SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealServer]:
    srv = RealServer(ServerKey(request.param, APP, NATIVE_VARIANTS[-1]), tmp_path)
    srv.start()
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def records(srv: RealServer) -> list[dict[str, object]]:
    path = srv.log_path.with_suffix(".shutdown")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.servers
def test_row52_sigterm_gives_an_open_websocket_a_close_frame(server: RealServer) -> None:
    seen_codes, recorded_code = EXPECTED[server.key.kind]
    assert server.proc is not None
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10, close_timeout=10) as ws:
        assert ws.recv(timeout=10) == "ready"
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        server.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=15)
    closed = info.value
    assert closed.rcvd is not None, f"no close frame from {server.key.kind}: {closed!r}\n{server.log_text()}"
    assert closed.rcvd.code in seen_codes, closed
    if server.key.kind == "granian-asgi":
        assert closed.rcvd.reason == "server shutting down"
    assert server.proc.wait(20) is not None
    deadline = time.monotonic() + 5
    while len(records(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    events = records(server)
    assert [e["event"] for e in events] == ["closed", "shutdown"], events
    assert events[0]["code"] == recorded_code, events


@pytest.mark.servers
def test_sigterm_without_websockets_stops_the_server_promptly(server: RealServer) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(20)
    assert [e["event"] for e in records(server)] == ["shutdown"]
