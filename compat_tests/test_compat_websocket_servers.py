"""The reference's WebSocket examples (``examples/ws_*.py``, unchanged) and a 200-connection room broadcast,
with a real client (``websockets``) against real uvicorn, granian asgi and granian rsgi (plus the two
in-process paths for the examples).

These use the harness's servers directly with ``GOBSTOPPER_NATIVE=0`` only: nothing here depends on the
router implementation, which ``test_compat_websocket.py`` already runs both ways.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect as aconnect

from compat_tests.conftest import get_target
from compat_tests.harness import IN_PROCESS, REAL_SERVERS, ServerPool, ServerTarget, Target
from compat_tests.test_compat_websocket import after_accept_code, ws_connect

PATHS = [pytest.param(p, id=p, marks=[pytest.mark.servers] if p in REAL_SERVERS else []) for p in
         IN_PROCESS + REAL_SERVERS]  # fmt: skip


def _target(name: str, app: str, targets: dict[Any, Target], pool: ServerPool) -> Target:
    return get_target(targets, pool, name, "0", app)


# -- the reference's examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_echo_examples(path: str, _targets: dict[Any, Target], server_pool: ServerPool) -> None:
    target = _target(path, "ws_echo:app", _targets, server_pool)
    for url in ("/ws/echo", "/ws/echo/iter", "/ws/echo/text"):
        with ws_connect(target, url) as ws:
            ws.send("hello")
            assert ws.recv() == "Echo: hello", url
            ws.send("x" * 100_000)
            assert ws.recv() == "Echo: " + "x" * 100_000, url


@pytest.mark.parametrize("path", PATHS)
def test_chat_example(path: str, _targets: dict[Any, Target], server_pool: ServerPool) -> None:
    target = _target(path, "ws_chat:app", _targets, server_pool)
    with ws_connect(target, "/ws/chat/lobby") as alice, ws_connect(target, "/ws/chat/lobby") as bob:
        with ws_connect(target, "/ws/chat/other") as carol:
            deadline = time.monotonic() + 5
            while target.get("/rooms/lobby").json()["active_users"] < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            alice.send("hi all")
            assert alice.recv() == "hi all"
            assert bob.recv() == "hi all"
            carol.send("elsewhere")
            assert carol.recv() == "elsewhere"
            bob.send("hello alice")
            assert alice.recv() == "hello alice"  # carol's room message never reached the lobby
    deadline = time.monotonic() + 5
    while target.get("/rooms/lobby").json()["active_users"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert target.get("/rooms/lobby").json() == {"room": "lobby", "active_users": 0, "connection_ids": []}


@pytest.mark.parametrize("path", PATHS)
def test_json_api_example(path: str, _targets: dict[Any, Target], server_pool: ServerPool) -> None:
    target = _target(path, "ws_json_api:app", _targets, server_pool)
    with ws_connect(target, "/ws/api") as ws:
        ws.send(json.dumps({"op": "add", "args": [1, 2, 39]}))
        assert json.loads(ws.recv()) == {"op": "add", "result": 42}
        ws.send(json.dumps({"op": "upper", "args": ["a", "b"]}))
        assert json.loads(ws.recv()) == {"op": "upper", "result": "A B"}
        ws.send(json.dumps({"op": "nope"}))
        assert json.loads(ws.recv()) == {"op": "nope", "error": "unknown operation 'nope'"}


@pytest.mark.parametrize("path", PATHS)
def test_binary_stream_examples(path: str, _targets: dict[Any, Target], server_pool: ServerPool) -> None:
    target = _target(path, "ws_binary_stream:app", _targets, server_pool)
    pattern = bytes(range(256)) * 1280
    with ws_connect(target, "/ws/stream") as ws:
        chunks = [ws.recv() for _ in range(5)]
        assert [len(c) for c in chunks] == [65536] * 5
        assert b"".join(chunks) == pattern  # type: ignore[arg-type]
        closed = ws.recv_close()
        assert closed.code == after_accept_code(target, 1000)
    with ws_connect(target, "/ws/data") as ws:
        ws.send(b"\x01\x02\x03")
        assert ws.recv() == b"\x03\x02\x01"
        ws.send("text is ignored by this handler")
        ws.send(b"ab")
        assert ws.recv() == b"ba"


# -- 200 connections in rooms, half of them dropped abruptly -----------------------------------------------------


async def _room_scenario(target: ServerTarget) -> None:
    port = target.server.port
    rooms = [f"r{k}" for k in range(4)]
    n_messages = 20

    async def join(i: int) -> Any:
        return await aconnect(f"ws://127.0.0.1:{port}/ws/room/{rooms[i % 4]}?id=c{i}", open_timeout=20)

    clients = await asyncio.gather(*(join(i) for i in range(200)))

    async def stats() -> dict[str, Any]:
        return (await asyncio.to_thread(target.get, "/stats")).json()  # type: ignore[no-any-return]

    async def wait_for_connections(n: int) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            current = await stats()
            if (current["connections"] == n and not current["closed_in_manager"]) or time.monotonic() > deadline:
                return current
            await asyncio.sleep(0.05)

    assert (await wait_for_connections(200))["connections"] == 200
    # Half of every room: clients 4k..4k+3 are one per room, so drop every other group of four.
    dropped = [ws for i, ws in enumerate(clients) if (i // 4) % 2]
    live = [ws for i, ws in enumerate(clients) if not (i // 4) % 2]
    for ws in dropped:
        ws.transport.abort()  # no close frame: the TCP connection just goes away
    for room in rooms:  # broadcast right away, racing the server's discovery of the dead peers
        response = await asyncio.to_thread(target.post, f"/broadcast/{room}?n={n_messages}")
        assert response.status == 200, response

    async def collect(ws: Any) -> list[str]:
        return [await asyncio.wait_for(ws.recv(), 10) for _ in range(n_messages)]

    received = await asyncio.gather(*(collect(ws) for ws in live))
    expected = [f"m{i}" for i in range(n_messages)]
    assert all(got == expected for got in received), "a live peer missed or reordered a broadcast"

    final = await wait_for_connections(100)
    assert final["connections"] == 100 and final["closed_in_manager"] == 0, final
    assert sorted(final["rooms"].values()) == [25, 25, 25, 25], final
    await asyncio.gather(*(ws.close() for ws in live))
    final = await wait_for_connections(0)
    assert final == {"connections": 0, "closed_in_manager": 0, "rooms": {}}, final


@pytest.mark.servers
@pytest.mark.parametrize("path", REAL_SERVERS)
def test_200_connections_broadcast_with_half_dropped(
    path: str, _targets: dict[Any, Target], server_pool: ServerPool
) -> None:
    target = _target(path, "ws_app:app", _targets, server_pool)
    assert isinstance(target, ServerTarget)
    asyncio.run(_room_scenario(target))
