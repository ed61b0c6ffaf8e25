"""The WebSocket API, limits, liveness and the room manager, on a scripted in-memory channel and through both
in-process clients (Starlette's TestClient over ASGI, RSGITestClient over the fake Granian protocol)."""

from __future__ import annotations

import ast
import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import WebSocketDenialResponse

from gobstopper import Gobstopper, abort
from gobstopper.adapter import BYTES, CLOSE, TEXT, WebSocketChannel
from gobstopper.adapters.rsgi import SOURCE
from gobstopper.http.request import Request
from gobstopper.testing import (
    RSGIHeaders,
    RSGIScope,
    RSGITestClient,
    TestClient,
    WebSocketClosed,
    WebSocketRejected,
)
from gobstopper.websocket import (
    ChannelClosed,
    ConnectionClosed,
    WebSocket,
    WebSocketDisconnect,
    WebSocketManager,
    WebSocketMessage,
    WebSocketSettings,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ScriptedChannel:
    """An in-memory WebSocketChannel: the test plays the peer."""

    close_codes = True
    subprotocols = True

    def __init__(self, *, write_blocks: bool = False) -> None:
        self.incoming: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.sent: list[str | bytes] = []
        self.opened = False
        self.refused: int | None = None
        self.shut_with: tuple[int, str] | None = None
        self.write_blocks = write_blocks
        self._unblock = asyncio.Event()

    async def accept(self, subprotocol: str | None, headers: list[tuple[str, str]]) -> None:
        self.opened = True

    async def reject(self, status: int) -> None:
        if self.refused is None:
            self.refused = status

    async def receive(self) -> tuple[str, Any]:
        return await self.incoming.get()

    async def send(self, data: str | bytes) -> None:
        if self.shut_with is not None:
            raise ChannelClosed()
        if self.write_blocks:
            await self._unblock.wait()  # a peer that never reads
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.shut_with = (code, reason)
        self.incoming.put_nowait((CLOSE, code))

    def release(self) -> None:
        pass

    # the peer's side
    def peer_send(self, data: str | bytes) -> None:
        self.incoming.put_nowait((TEXT if isinstance(data, str) else BYTES, data))

    def peer_close(self, code: int = 1000) -> None:
        self.incoming.put_nowait((CLOSE, code))


def test_the_scripted_channel_implements_the_adapter_interface() -> None:
    assert isinstance(ScriptedChannel(), WebSocketChannel)


def make_ws(channel: ScriptedChannel, **settings: Any) -> WebSocket:
    app = Gobstopper("wsunit")

    scope = RSGIScope("GET", "/ws", "a=1&a=2&token=t", RSGIHeaders([("origin", "https://x.example")]), proto="ws")
    request = Request("GET", "/ws", scope, None, SOURCE, app, app.settings.http)
    return WebSocket(request, channel, {"room": "r"}, WebSocketSettings(**settings))


async def wait_until(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


# -- the connection API -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_handshake_properties_and_message_round_trip() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel)
    assert ws.path == "/ws" and ws.path_params == {"room": "r"}
    assert ws.query_params.getlist("a") == ["1", "2"] and ws.query_params.get("token") == "t"
    assert ws.origin == "https://x.example" and ws.connection_state == "connecting"
    with pytest.raises(RuntimeError, match="accept"):
        await ws.send_text("too early")
    with pytest.raises(RuntimeError, match="accept"):
        await ws.receive()
    await ws.accept()
    with pytest.raises(RuntimeError, match="already open"):
        await ws.accept()
    channel.peer_send("hello")
    channel.peer_send(b"\x00\x01")
    channel.peer_send('{"a": [1]}')
    message = await ws.receive()
    assert (message.type, message.data, str(message)) == ("text", "hello", "hello")
    assert await ws.receive_bytes() == b"\x00\x01"
    assert await ws.receive_json() == {"a": [1]}
    await ws.send("t")
    await ws.send(b"b")
    await ws.send_json({"x": 1})
    await ws.send_json([1], mode="binary")
    await wait_until(lambda: len(channel.sent) == 4)
    assert channel.sent == ["t", b"b", '{"x":1}', b"[1]"]
    channel.peer_close(4002)
    closed = await ws.receive()
    assert (closed.type, closed.code, closed.data) == ("close", 4002, None)
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.receive()  # the close is delivered once
    assert info.value.code == 4002 and isinstance(info.value, ConnectionError)
    with pytest.raises(ConnectionClosed):
        await ws.send_text("gone")
    await ws._teardown()


@pytest.mark.anyio
async def test_iteration_helpers_stop_at_the_close() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel)
    await ws.accept()
    for item in ("a", "b"):
        channel.peer_send(item)
    channel.peer_close()
    assert [m.data async for m in ws] == ["a", "b"]
    ws2 = make_ws(channel2 := ScriptedChannel())
    await ws2.accept()
    channel2.peer_send("x")
    channel2.peer_send(b"y")
    channel2.peer_close()
    assert [t async for t in ws2.iter_text()] == ["x", "y"]
    await ws._teardown()
    await ws2._teardown()


@pytest.mark.anyio
async def test_receive_json_into_a_model_and_bad_json_keeps_the_connection() -> None:
    class Point(msgspec.Struct):
        x: int

    channel = ScriptedChannel()
    ws = make_ws(channel)
    await ws.accept()
    channel.peer_send('{"x": 3}')
    channel.peer_send("not json")
    channel.peer_send('{"x": 4}')
    assert await ws.receive_json(Point) == Point(3)
    with pytest.raises(ValueError):
        await ws.receive_json()
    assert (await ws.receive_json())["x"] == 4
    await ws._teardown()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text", "bytes"])
async def test_receive_json_bounds_nesting_like_http_bodies(kind: str) -> None:
    # 200 levels is over the default 128; 200,000 would raise RecursionError out of msgspec on 3.11 and be
    # accepted on 3.13: both are the same ValueError, and the connection stays open.
    channel = ScriptedChannel()
    ws = make_ws(channel)
    await ws.accept()
    for text in ("[" * 200 + "]" * 200, "[" * 200_000 + "]" * 200_000, "[" * 128 + "]" * 128, '{"ok": 1}'):
        channel.peer_send(text if kind == "text" else text.encode())
    for _ in range(2):
        with pytest.raises(ValueError, match="nests deeper than 128 levels"):
            await ws.receive_json()
    deepest_allowed = await ws.receive_json()
    levels = 0
    while isinstance(deepest_allowed, list):
        levels, deepest_allowed = levels + 1, (deepest_allowed[0] if deepest_allowed else None)
    assert levels == 128
    assert await ws.receive_json() == {"ok": 1}
    await ws._teardown()


@pytest.mark.anyio
async def test_close_validates_code_and_flushes_queued_messages() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel)
    await ws.accept()
    with pytest.raises(ValueError):
        await ws.close(1005)
    with pytest.raises(ValueError):
        await ws.close(1000, "x" * 124)
    for i in range(5):
        await ws.send_text(f"m{i}")
    await ws.close(4000, "done")
    assert channel.sent == [f"m{i}" for i in range(5)] and channel.shut_with == (4000, "done")
    assert ws.close_code == 4000 and ws.closed
    await ws.close()  # twice is harmless
    await ws._teardown()


@pytest.mark.anyio
async def test_close_before_accept_refuses_with_403_and_reject_takes_a_status() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel)
    await ws.close(1008)
    assert channel.refused == 403 and not channel.opened
    channel2 = ScriptedChannel()
    ws2 = make_ws(channel2)
    with pytest.raises(ValueError):
        await ws2.reject(200)
    await ws2.reject(429)
    assert channel2.refused == 429


@pytest.mark.anyio
async def test_subprotocol_needs_a_channel_that_can_send_it() -> None:
    channel = ScriptedChannel()
    channel.subprotocols = False  # what the RSGI channel says
    ws = make_ws(channel)
    with pytest.raises(RuntimeError, match="RSGI"):
        await ws.accept(subprotocol="chat")
    assert not channel.opened


# -- limits and liveness ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_message_over_the_limit_closes_1009_counting_utf8_bytes() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel, max_message_bytes=10)
    await ws.accept()
    channel.peer_send("é" * 5)  # 10 bytes: at the limit
    channel.peer_send("é" * 6)  # 12 bytes, 6 characters
    assert await ws.receive_text() == "é" * 5
    closed = await ws.receive()
    assert (closed.type, closed.code) == ("close", 1009)
    assert channel.shut_with == (1009, "message too big")
    await ws._teardown()


@pytest.mark.anyio
async def test_a_slow_consumer_is_closed_1008_instead_of_buffering() -> None:
    channel = ScriptedChannel(write_blocks=True)
    ws = make_ws(channel, send_queue_size=3, send_timeout=0.1, close_timeout=0.1)
    await ws.accept()
    started = time.monotonic()
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(100):
            await ws.send_bytes(b"x" * 1000)
    assert (info.value.code, info.value.reason) == (1008, "slow consumer")
    assert time.monotonic() - started < 1
    assert channel.shut_with == (1008, "slow consumer")
    await ws._teardown()


@pytest.mark.anyio
async def test_the_send_queue_is_bounded_in_bytes_too() -> None:
    channel = ScriptedChannel(write_blocks=True)
    ws = make_ws(channel, send_queue_size=1000, send_queue_bytes=10_000, send_timeout=0.05, close_timeout=0.1)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect):
        for _ in range(100):
            await ws.send_bytes(b"x" * 4000)
    await ws._teardown()


@pytest.mark.anyio
async def test_heartbeat_pings_a_silent_peer_then_closes_it_and_swallows_pongs() -> None:
    channel = ScriptedChannel()
    # Windows wide enough for a loaded machine: the pong must arrive within heartbeat_timeout of the ping.
    ws = make_ws(channel, heartbeat_interval=0.3, heartbeat_timeout=0.3)
    await ws.accept()
    await wait_until(lambda: "ping" in channel.sent)
    channel.peer_send("pong")  # an answer: alive, and not for the handler
    await asyncio.sleep(0.1)
    assert ws.connection_state == "open"
    channel.peer_send("real")
    assert await ws.receive_text() == "real"  # the pong was swallowed
    closed = await asyncio.wait_for(ws.receive(), 3)
    assert (closed.type, closed.code) == ("close", 1011)
    assert channel.shut_with == (1011, "heartbeat timeout")
    await ws._teardown()


@pytest.mark.anyio
async def test_idle_timeout_closes_a_silent_peer() -> None:
    channel = ScriptedChannel()
    ws = make_ws(channel, idle_timeout=0.05)
    await ws.accept()
    closed = await asyncio.wait_for(ws.receive(), 1)
    assert (closed.code, channel.shut_with) == (1001, (1001, "idle timeout"))
    await ws._teardown()


def test_settings_from_app_config() -> None:
    assert WebSocketSettings.from_config({}) == WebSocketSettings()
    settings = WebSocketSettings.from_config(
        {"MAX_WS_MESSAGE_BYTES": 5, "WS_ALLOWED_ORIGINS": "https://a.example/", "WS_HEARTBEAT_INTERVAL": 2}
    )
    assert settings.max_message_bytes == 5 and settings.heartbeat_timeout == 2
    assert settings.origin_allowed("https://A.example") and not settings.origin_allowed("https://b.example")
    with pytest.raises(ValueError):
        WebSocketSettings.from_config({"MAX_WS_MESSAGE_BYTES": 0})


# -- serving: refusals always carry a status ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_serve_refuses_unknown_paths_and_failed_handlers_with_explicit_statuses() -> None:
    app = Gobstopper("servetest")

    @app.websocket("/raise")
    async def raising(websocket):
        raise RuntimeError("boom")

    @app.websocket("/quiet")
    async def quiet(websocket):
        return None

    @app.websocket("/auth")
    async def auth(websocket):
        abort(401)

    for path, status in (("/nope", 404), ("/raise", 500), ("/quiet", 403), ("/auth", 401)):
        channel = ScriptedChannel()
        scope = RSGIScope("GET", path, "", RSGIHeaders([]), proto="ws")
        await app.handle_websocket(Request("GET", path, scope, None, SOURCE, app, app.settings.http), channel)
        assert channel.refused == status, path


# -- the manager ---------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_manager_rooms_and_membership_copies() -> None:
    manager = WebSocketManager()
    ws = make_ws(ScriptedChannel())
    manager.add_connection("a", ws)
    manager.join_room("a", "r1")
    manager.join_room("a", "r2")
    manager.join_room("ghost", "r1")  # unknown ids are ignored
    assert manager.get_room_connections("r1") == {"a"} and manager.get_connection_rooms("a") == {"r1", "r2"}
    manager.get_room_connections("r1").add("x")  # a copy
    assert manager.get_room_connections("r1") == {"a"}
    manager.leave_room("a", "r1")
    assert "r1" not in manager.rooms and manager.get_connection_rooms("a") == {"r2"}
    manager.remove_connection("a")
    manager.remove_connection("a")
    assert manager.connections == {} and dict(manager.rooms) == {}


@pytest.mark.anyio
async def test_broadcast_skips_and_removes_dead_and_slow_peers_without_waiting() -> None:
    manager = WebSocketManager()
    healthy, slow, dead = ScriptedChannel(), ScriptedChannel(write_blocks=True), ScriptedChannel()
    sockets = {
        "healthy": make_ws(healthy),
        "slow": make_ws(slow, send_queue_size=2, close_timeout=0.1),
        "dead": make_ws(dead),
    }
    for name, ws in sockets.items():
        await ws.accept()
        manager.add_connection(name, ws)
        manager.join_room(name, "room")
    dead.peer_close()
    await wait_until(lambda: sockets["dead"].closed)
    started = time.monotonic()
    for i in range(10):
        await manager.broadcast_to_room("room", f"m{i}")
    assert time.monotonic() - started < 0.5  # the stuck peer never stalled the broadcast
    await wait_until(lambda: len(healthy.sent) == 10)
    assert healthy.sent == [f"m{i}" for i in range(10)]
    assert set(manager.connections) == {"healthy"} and manager.get_room_connections("room") == {"healthy"}
    await wait_until(lambda: slow.shut_with is not None)
    assert slow.shut_with == (1008, "slow consumer")
    await manager.close_all()
    assert healthy.shut_with == (1001, "") and not manager.connections
    for ws in sockets.values():
        await ws._teardown()


@pytest.mark.anyio
async def test_many_concurrent_joins_leaves_and_broadcasts() -> None:
    manager = WebSocketManager()
    channels = [ScriptedChannel() for _ in range(100)]
    sockets = [make_ws(c) for c in channels]

    async def life(i: int) -> None:
        await sockets[i].accept()
        manager.add_connection(str(i), sockets[i])
        manager.join_room(str(i), f"room{i % 5}")
        await asyncio.sleep(0)
        await manager.broadcast_to_all(f"hello from {i}")
        if i % 2:
            manager.leave_room(str(i), f"room{i % 5}")
            manager.remove_connection(str(i))

    await asyncio.gather(*(life(i) for i in range(100)))
    assert len(manager.connections) == 50
    assert sum(len(m) for m in manager.rooms.values()) == 50
    await manager.broadcast_to_room("room0", "last")
    await wait_until(lambda: all(channels[i].sent[-1:] == ["last"] for i in range(0, 100, 10)))
    for ws in sockets:
        await ws.close()
        await ws._teardown()


def test_message_repr_equality_and_json() -> None:
    assert WebSocketMessage("text", "hi") == WebSocketMessage("text", "hi")
    assert WebSocketMessage("text", '{"a":1}').json() == {"a": 1}
    assert "close" in repr(WebSocketMessage("close", None, 1000))
    assert str(WebSocketMessage("bytes", b"ab")) == "ab"


def test_the_message_module_holds_the_names_connection_re_exports() -> None:
    from gobstopper.websocket import connection, messages

    for name in ("WebSocketMessage", "WebSocketDisconnect", "ConnectionClosed"):
        assert getattr(connection, name) is getattr(messages, name)
    assert messages.too_big("é" * 6, 11) and not messages.too_big("é" * 5, 10) and messages.too_big(b"x" * 3, 2)
    with pytest.raises(ValueError, match="close code"):
        messages.check_close(1005, "")
    with pytest.raises(ValueError, match="123 bytes"):
        messages.check_close(1000, "é" * 62)
    messages.check_close(4000, "x" * 123)


class BrokenChannel(ScriptedChannel):
    async def receive(self) -> tuple[str, Any]:
        raise RuntimeError("the server broke")


@pytest.mark.anyio
async def test_a_connection_logs_through_the_logger_it_is_given(caplog: pytest.LogCaptureFixture) -> None:
    channel = BrokenChannel()
    base = make_ws(channel)
    ws = WebSocket(base.request, channel, {}, WebSocketSettings(), logging.getLogger("given.logger"))
    assert ws.logger.name == "given.logger"
    with caplog.at_level(logging.ERROR):
        await ws.accept()
        closed = await ws.receive()
    assert (closed.type, closed.code) == ("close", 1011)
    assert [r.name for r in caplog.records if "reader failed" in r.getMessage()] == ["given.logger"]
    await ws._teardown()


@pytest.mark.anyio
async def test_dispatch_gives_a_connection_the_app_logger() -> None:
    app = Gobstopper("wslogger")
    seen: list[str] = []

    @app.websocket("/ws")
    async def handler(websocket):
        seen.append(websocket.logger.name)
        await websocket.close()

    with TestClient(app) as client, pytest.raises(WebSocketDenialResponse):
        with client.websocket_connect("/ws"):
            pass
    assert seen == ["wslogger"]


def test_the_websocket_package_never_names_the_app() -> None:
    # docs/architecture.md rule 5: websocket/ receives what it needs (settings, a logger) and never reads anything
    # off the app; it only hands it on to handlers as ``websocket.app``.
    folder = Path(__file__).resolve().parent.parent / "src" / "gobstopper" / "websocket"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        reads = [
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute) and n.value.attr == "app"
        ]
        assert reads == [], path.name
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(m and m.endswith("core.app") for m in imported), path.name


# -- both in-process clients ----------------------------------------------------------------------------------------


def build_app() -> Gobstopper:
    app = Gobstopper("wsclients")

    @app.websocket("/echo/<int:n>")
    async def echo(websocket, n):
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"{n}:{text}")

    @app.websocket("/deny")
    async def deny(websocket):
        await websocket.reject(429)

    @app.get("/http")
    async def http(request):
        return "ok"

    return app


def test_starlette_testclient_websocket_connect() -> None:
    with TestClient(build_app()) as client:
        with client.websocket_connect("/echo/3") as ws:
            ws.send_text("a")
            assert ws.receive_text() == "3:a"
        with pytest.raises(WebSocketDenialResponse) as info:
            with client.websocket_connect("/deny"):
                pass
        assert info.value.status_code == 429


def test_rsgi_testclient_websocket_connect_and_http_meanwhile() -> None:
    with RSGITestClient(build_app()) as client:
        with client.websocket_connect("/echo/3") as ws, client.websocket_connect("/echo/4") as ws2:
            ws.send_text("a")
            ws2.send_text("b")
            assert ws.receive_text() == "3:a" and ws2.receive_text() == "4:b"
            assert client.get("/http").text == "ok"  # HTTP while sessions are open
        with pytest.raises(WebSocketRejected) as info:
            client.websocket_connect("/deny")
        assert info.value.status_code == 429
        assert client.get("/http").status_code == 200


def test_fake_rsgi_protocol_flags_a_handshake_ended_without_status() -> None:
    class Bare:  # a raw RSGI app that makes Granian <= 2.8.5 crash
        async def __rsgi__(self, scope: Any, protocol: Any) -> None:
            return None

    with RSGITestClient(Bare()) as client:
        with pytest.raises(AssertionError, match="before accept"):
            client.websocket_connect("/")


def test_fake_rsgi_close_after_accept_sends_no_code() -> None:
    app = Gobstopper("rsgiclose")

    @app.websocket("/")
    async def handler(websocket):
        await websocket.accept()
        await websocket.close(4000, "why")

    with RSGITestClient(app) as client:
        with client.websocket_connect("/") as ws:
            with pytest.raises(WebSocketClosed) as info:
                ws.receive()
            assert info.value.code == 1005
