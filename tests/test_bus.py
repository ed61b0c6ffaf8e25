"""The message bus (gobstopper.bus): in-process, and on a real Redis where two buses stand for two processes;
SSE topics with their history; WebSocketManager rooms over the bus; Redis stopped and started again."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.bus import HISTORY_LOST_EVENT, BusExtension, MessageBus, active_bus, parse_event_id
from gobstopper.testing import TestClient
from gobstopper.websocket import WebSocketManager
from tests._services import service_url
from tests.test_cache_redis import OwnRedis

pytestmark = pytest.mark.timeout(60)


def prefix() -> str:
    return f"t:{uuid.uuid4().hex}:"


def redis_url() -> str:
    return service_url("GOBSTOPPER_TEST_REDIS_URL")


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def pair(**options: Any) -> tuple[MessageBus, MessageBus]:
    """Two buses on one Redis: what two processes of one app have."""
    p = prefix()
    a, b = MessageBus(redis_url(), prefix=p, **options), MessageBus(redis_url(), prefix=p, **options)
    await a.start()
    await b.start()
    assert a.connected and b.connected
    return a, b


class Peer:
    """Stands for a WebSocket: records what the manager sends it."""

    def __init__(self) -> None:
        self.received: list[str | bytes] = []

    async def send_text(self, text: str) -> None:
        self.received.append(text)

    async def send_bytes(self, data: bytes) -> None:
        self.received.append(data)


# -- in one process ------------------------------------------------------------------------------------------


def test_memory_bus_delivers_in_this_process_only() -> None:
    bus = MessageBus()
    assert bus.backend == "memory" and not bus.distributed and bus.redis is None
    got: list[bytes] = []
    other: list[bytes] = []
    sub = bus.subscribe("news", got.append)
    bus.subscribe("sport", other.append)

    async def main() -> None:
        assert await bus.publish("news", b"one") == 0
        assert await bus.publish("news", "two") == 0
        sub.close()
        sub.close()  # harmless twice
        await bus.publish("news", b"three")

    asyncio.run(main())
    assert got == [b"one", b"two"] and other == []
    assert bus.subscriber_count("news") == 0 and bus.subscriber_count("sport") == 1


def test_a_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = MessageBus()
    got: list[bytes] = []

    def broken(data: bytes) -> None:
        raise RuntimeError("boom")

    bus.subscribe("c", broken)
    bus.subscribe("c", got.append)
    asyncio.run(bus.publish("c", b"x"))
    assert got == [b"x"] and bus.stats["callback_errors"] == 1
    assert any("subscriber of 'c' failed" in r.getMessage() for r in caplog.records)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown bus URL"):
        MessageBus("kafka://localhost")
    with pytest.raises(ValueError, match="not both"):
        MessageBus("redis://localhost", redis=object())
    with pytest.raises(ValueError, match="history"):
        MessageBus(history=0)
    with pytest.raises(ValueError, match="timeout"):
        MessageBus(timeout=-1)
    bus = MessageBus()
    with pytest.raises(TypeError, match="non-empty str"):
        bus.subscribe("", print)
    with pytest.raises(TypeError, match="bytes or str"):
        asyncio.run(bus.publish("c", 42))  # type: ignore[arg-type]


def test_a_client_decoding_to_str_is_refused() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses=False"):
        MessageBus(redis=client)


def test_memory_requests_ask_this_process() -> None:
    bus = MessageBus()

    async def main() -> None:
        assert await bus.request("who") == []
        bus.respond("who", lambda data: b"me:" + data)
        assert await bus.request("who", b"?") == [b"me:?"]

    asyncio.run(main())


def test_parse_event_id() -> None:
    assert parse_event_id("1700000000000-3") == (1700000000000, 3)
    assert parse_event_id(b"17") == (17, 0)
    for bad in ("", None, "abc", "1-2-3", "-1", "1-", "9" * 30):
        assert parse_event_id(bad) is None


# -- topics in one process -----------------------------------------------------------------------------------


async def take(subscription: Any, count: int, timeout: float = 5.0) -> list[Any]:
    return [await asyncio.wait_for(subscription.__anext__(), timeout) for _ in range(count)]


def test_memory_topic_live_replay_and_history_lost() -> None:
    bus = MessageBus(history=3)
    topic = bus.topic("news")
    assert bus.topic("news") is topic

    async def main() -> None:
        async with topic.subscribe() as live:
            first = await topic.publish({"n": 1}, event="update")
            events = await take(live, 1)
        assert events[0].id == first and events[0].event == "update" and events[0].data == '{"n":1}'
        ids = [first] + [await topic.publish(f"e{n}") for n in range(2, 5)]  # 4 events, history keeps 3
        assert [parse_event_id(i) for i in ids] == sorted(parse_event_id(i) for i in ids)
        async with topic.subscribe(ids[1]) as resumed:  # ids[2], ids[3] kept after it: nothing lost
            got = await take(resumed, 2)
            assert [e.id for e in got] == ids[2:]
            later = await topic.publish("e5")
            assert [e.id for e in await take(resumed, 1)] == [later]
        async with topic.subscribe(ids[0]) as too_old:  # ids[1] was dropped from the history
            lost = (await take(too_old, 1))[0]
            assert lost.event == HISTORY_LOST_EVENT and lost.id is None
            data = msgspec.json.decode(lost.data)
            assert data["last_event_id"] == ids[0] and data["topic"] == "news"
            newest = await topic.publish("e6")
            assert [e.id for e in await take(too_old, 1)] == [newest]  # then live events
        async with topic.subscribe("not an id") as bad:
            assert (await take(bad, 1))[0].event == HISTORY_LOST_EVENT

    asyncio.run(main())


def test_a_subscriber_that_does_not_read_ends_instead_of_growing() -> None:
    bus = MessageBus(history=100)
    topic = bus.topic("busy")

    async def main() -> None:
        async with topic.subscribe(max_queue=5) as slow:
            for n in range(8):
                await topic.publish(str(n))
            got = [event async for event in slow]  # the stream ends after what it had queued
            assert [e.data for e in got] == ["0", "1", "2", "3", "4"] and slow.overflowed
        # What it missed is in the history: a reconnect with its last id gets the rest.
        async with topic.subscribe(got[-1].id) as resumed:
            assert [e.data for e in await take(resumed, 3)] == ["5", "6", "7"]

    asyncio.run(main())


def test_topic_stream_with_the_test_client() -> None:
    app = Gobstopper(__name__)
    app.init_bus("memory://")
    topic = app.bus.topic("clock")

    @app.get("/events")
    async def events(request: Any) -> Any:
        return topic.stream(request, ping=None)

    @app.post("/tick")
    async def tick(request: Any) -> Any:
        return {"id": await topic.publish({"t": 1}, event="tick")}

    with TestClient(app) as client:
        first = client.post("/tick").json()["id"]
        second = client.post("/tick").json()["id"]

        async def read() -> str:
            # A resumed stream replays what came after Last-Event-ID, then waits: read what is there.
            response = app.bus.topic("clock").stream(last_event_id=first, ping=None)
            chunks = response.chunks()
            text = ""
            for _ in range(2):
                text += await asyncio.wait_for(chunks.__anext__(), 2)
            await chunks.aclose()
            return text

        text = asyncio.run(read())
    assert text == f': topic clock\n\nid: {second}\nevent: tick\ndata: {{"t":1}}\n\n'


def test_app_init_bus_registers_the_extension() -> None:
    app = Gobstopper(__name__)
    bus = app.init_bus()
    assert app.bus is bus and app.extensions["bus"].bus is bus and bus.backend == "memory"
    again = app.init_bus("memory://", history=5)
    assert app.bus is again and again.history == 5
    other = Gobstopper(__name__)
    ext = other.register_extension(BusExtension())
    assert other.bus is ext.bus
    with pytest.raises(ValueError):
        app.init_bus("nope://")


def test_bus_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_BUS_URL", "redis://127.0.0.1:6399/2")
    monkeypatch.setenv("GOBSTOPPER_BUS_PREFIX", "myapp:")
    app = Gobstopper(__name__)
    bus = app.init_bus()
    assert bus.backend == "redis" and bus.url == "redis://127.0.0.1:6399/2" and bus.prefix == "myapp:"


# -- WebSocketManager in one process -------------------------------------------------------------------------


def test_manager_with_a_memory_bus_delivers_once() -> None:
    bus = MessageBus()
    manager = WebSocketManager(bus)
    a, b = Peer(), Peer()

    async def main() -> None:
        manager.add_connection("a", a)  # type: ignore[arg-type]
        manager.add_connection("b", b)  # type: ignore[arg-type]
        manager.join_room("a", "lobby")
        assert await manager.broadcast_to_room("lobby", "hi") == 1
        assert await manager.broadcast_to_all(b"all") == 2
        assert await manager.get_global_room_connections("lobby") == {"a"}
        assert await manager.get_global_rooms() == {"lobby": 1}
        assert await manager.get_global_connection_count() == 2

    asyncio.run(main())
    assert a.received == ["hi", b"all"] and b.received == [b"all"]
    assert not manager.is_global


def test_two_managers_with_one_name_on_one_bus_are_refused() -> None:
    bus = MessageBus()
    first = WebSocketManager(bus, name="chat")
    with pytest.raises(ValueError, match="named 'chat'"):
        WebSocketManager(bus, name="chat")
    WebSocketManager(bus, name="notifications")
    first.use_bus(None)
    assert first.bus is None
    WebSocketManager(bus, name="chat")  # the first one left the bus: its name is free
    with pytest.raises(TypeError):
        WebSocketManager(name="")


def test_an_unbound_manager_adopts_the_one_started_bus() -> None:
    assert active_bus() is None
    manager = WebSocketManager()
    local_only = WebSocketManager(False, name="local")

    async def main() -> None:
        bus = MessageBus()
        await bus.start()
        try:
            assert active_bus() is bus
            await manager.broadcast_to_all("x")
            assert manager.bus is bus
            await local_only.broadcast_to_all("x")
            assert local_only.bus is None
            second = MessageBus()
            await second.start()
            assert active_bus() is None  # two buses: a manager must be told which
            await second.close()
        finally:
            await bus.close()
        assert active_bus() is None and manager.bus is bus
        manager.add_connection("p", Peer())  # type: ignore[arg-type]
        assert manager.bus is None  # a closed bus is let go

    asyncio.run(main())


# -- on a real Redis: two buses stand for two processes ------------------------------------------------------


def test_messages_reach_the_other_process_exactly_once() -> None:
    async def main() -> None:
        a, b = await pair()
        try:
            got_a: list[bytes] = []
            got_b: list[bytes] = []
            a.subscribe("room", got_a.append)
            b.subscribe("room", got_b.append)
            for n in range(50):
                assert await a.publish("room", f"a{n}".encode()) == 1
            await b.publish("room", b"from b")
            await eventually(lambda: len(got_b) == 51 and len(got_a) == 51)
            await asyncio.sleep(0.1)  # nothing more comes: each message once, in each publisher's order
            sent_by_a = [f"a{n}".encode() for n in range(50)]
            assert [m for m in got_b if m != b"from b"] == sent_by_a and got_a[:50] == sent_by_a
            assert sorted(got_a) == sorted(got_b) == sorted([*sent_by_a, b"from b"])
            assert a.stats["received"] == 1 and b.stats["received"] == 50
            assert a.redis is a.redis and a.redis is not b.redis
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_requests_are_answered_by_every_process() -> None:
    async def main() -> None:
        a, b = await pair()
        c = MessageBus(redis_url(), prefix=a.prefix)  # a third process without a responder
        await c.start()
        try:
            a.respond("size", lambda data: b"a")

            async def slow(data: bytes) -> bytes:
                await asyncio.sleep(0.05)
                return b"b:" + data

            b.respond("size", slow)
            started = time.monotonic()
            assert sorted(await a.request("size", b"q")) == [b"a", b"b:q"]
            assert await c.request("size", b"q") in ([b"a", b"b:q"], [b"b:q", b"a"])
            assert time.monotonic() - started < a.timeout  # it did not wait for the timeout
            await b.close()  # a process that is gone is not waited for
            started = time.monotonic()
            assert await a.request("size") == [b"a"]
            assert time.monotonic() - started < a.timeout
        finally:
            await a.close()
            await c.close()

    asyncio.run(main())


def test_topics_across_processes_with_replay_and_lost_history() -> None:
    async def main() -> None:
        a, b = await pair(history=4)
        try:
            publisher, reader = a.topic("scores"), b.topic("scores")
            async with reader.subscribe() as live:
                ids = [await publisher.publish({"n": n}, event="score") for n in range(3)]
                got = await take(live, 3)
            assert [e.id for e in got] == ids and got[0].data == '{"n":0}' and got[0].event == "score"
            more = [await publisher.publish(f"m{n}") for n in range(3)]  # 6 published, 4 kept
            async with reader.subscribe(ids[1]) as resumed:  # ids[2] and later kept: complete
                replayed = await take(resumed, 4)
                assert [e.id for e in replayed] == [ids[2], *more]
                fresh = await publisher.publish("live")
                assert [e.id for e in await take(resumed, 1)] == [fresh]
            async with reader.subscribe(ids[0]) as too_old:
                lost = (await take(too_old, 1))[0]
                assert lost.event == HISTORY_LOST_EVENT
                assert msgspec.json.decode(lost.data)["oldest_event_id"] == more[0]
            async with b.topic("never-written").subscribe("1-0") as gone:
                assert (await take(gone, 1))[0].event == HISTORY_LOST_EVENT
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_rooms_across_processes() -> None:
    async def main() -> None:
        a, b = await pair()
        try:
            one, two = WebSocketManager(a), WebSocketManager(b)
            assert one.is_global
            peers = {name: Peer() for name in ("a1", "a2", "b1", "b2")}
            for name, peer in peers.items():
                manager = one if name.startswith("a") else two
                manager.add_connection(name, peer)  # type: ignore[arg-type]
                manager.join_room(name, "red" if name.endswith("1") else "blue")
            assert await one.broadcast_to_room("red", "to red") == 1  # one local, and b1 through Redis
            await eventually(lambda: peers["b1"].received == ["to red"])
            assert await two.broadcast_to_all(b"to all") == 2
            await eventually(lambda: len(peers["a1"].received) == 2 and len(peers["b1"].received) == 2)
            await eventually(lambda: len(peers["a2"].received) == 1)
            await asyncio.sleep(0.1)
            assert peers["a1"].received == ["to red", b"to all"] and peers["b1"].received == ["to red", b"to all"]
            assert peers["a2"].received == [b"to all"] and peers["b2"].received == [b"to all"]
            assert one.get_room_connections("red") == {"a1"}  # local
            assert await one.get_global_room_connections("red") == {"a1", "b1"}  # global
            assert await two.get_global_rooms() == {"red": 2, "blue": 2}
            assert await one.get_global_connection_count() == 4
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


# -- Redis stopped and started again -------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_lost_redis_is_retried_with_backoff_and_local_delivery_goes_on(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gobstopper.bus")

    async def main() -> None:
        p = prefix()
        a = MessageBus(own_redis.url, prefix=p, retry_initial=0.05, retry_max=0.4, timeout=0.5)
        b = MessageBus(own_redis.url, prefix=p, retry_initial=0.05, retry_max=0.4, timeout=0.5)
        await a.start()
        await b.start()
        got_a: list[bytes] = []
        got_b: list[bytes] = []
        a.subscribe("c", got_a.append)
        b.subscribe("c", got_b.append)
        topic = a.topic("t")
        try:
            await a.publish("c", b"before")
            await eventually(lambda: got_b == [b"before"])

            own_redis.stop()
            await eventually(lambda: not a.connected and not b.connected)
            assert await a.publish("c", b"during") == 0  # local delivery goes on
            assert await topic.publish("no history") is None
            assert got_a == [b"before", b"during"] and got_b == [b"before"]
            await asyncio.sleep(0.6)  # several attempts, each logged at debug level only
            attempts = [r for r in caplog.records if "reconnection attempt" in r.getMessage()]
            assert len(attempts) >= 2

            own_redis.start()
            assert await a.wait_connected(10) and await b.wait_connected(10)
            await a.publish("c", b"after")
            await eventually(lambda: got_b == [b"before", b"after"])
        finally:
            await a.close()
            await b.close()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("unavailable" in m for m in warnings) == 2  # once per bus, not once per attempt
        assert sum("reachable again" in m for m in warnings) == 2
        assert a.stats["reconnects"] == 1 and a.stats["skipped"] >= 2

    asyncio.run(main())


def test_a_topic_subscriber_catches_up_after_an_outage(own_redis: OwnRedis) -> None:
    from redis import Redis

    sync = Redis.from_url(own_redis.url)
    # b connects as its own Redis user, so that the test can cut b alone off and let it back in later.
    sync.acl_setuser("busb", enabled=True, passwords=["+pw"], commands=["+@all"], keys=["*"], channels=["*"])
    b_url = own_redis.url.replace("redis://", "redis://busb:pw@")

    async def main() -> None:
        p = prefix()
        a = MessageBus(own_redis.url, prefix=p, retry_initial=0.02, retry_max=0.02, timeout=0.5)
        b = MessageBus(b_url, prefix=p, retry_initial=0.05, retry_max=0.1, timeout=0.5)
        await a.start()
        await b.start()
        try:
            async with b.topic("feed").subscribe() as live:
                first = await a.topic("feed").publish("1")
                assert [e.id for e in await take(live, 1)] == [first]
                sync.acl_setuser("busb", enabled=False)
                sync.client_kill_filter(user="busb")
                await eventually(lambda: not b.connected, 5)
                second = await a.topic("feed").publish("2")  # b is not listening: not live, only in the history
                third = await a.topic("feed").publish("3")
                assert second is not None and third is not None and not b.connected
                sync.acl_setuser("busb", enabled=True)
                got = await take(live, 2, timeout=10)
                assert [e.id for e in got] == [second, third]
                assert b.stats["reconnects"] == 1
                fourth = await a.topic("feed").publish("4")
                assert [e.id for e in await take(live, 1)] == [fourth]
        finally:
            await a.close()
            await b.close()

    try:
        asyncio.run(main())
    finally:
        sync.close()


def test_topics_named_from_requests_do_not_pile_up() -> None:
    import gc

    bus = MessageBus("redis://127.0.0.1:1/0")  # nothing connects until used
    kept = bus.topic("kept")
    for n in range(1000):
        bus.topic(f"user:{n}")  # e.g. a topic per user, named from the request
    gc.collect()
    assert bus.topic("kept") is kept and len(bus._topics) == 1
