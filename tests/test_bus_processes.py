"""Rooms and topics across real processes on one real Redis: granian rsgi with two workers, granian asgi with two
workers and uvicorn, all running tests/bus_apps/bus_app.py (five processes, five buses).

- 100 WebSocket clients over 5 rooms: every room broadcast (sent by a client over its socket, or by an HTTP
  request to any server) reaches exactly its room's clients, on every process, exactly once; membership is local
  or global as asked. Killing one server drops its clients only; the others still get every broadcast.
- SSE topics: every subscribed stream on every process gets each event once; a client that reconnects with
  ``Last-Event-ID`` (to another server) gets what it missed, then live events; killing a server ends only its
  streams.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._services import service_url

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

APP_DIR = Path(__file__).resolve().parent / "bus_apps"
ROOMS = [f"r{n}" for n in range(5)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process (and its workers, in their own process group)."""

    def __init__(self, kind: str, env: dict[str, str], log_dir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.log = log_dir / f"{kind}-{self.port}.log"
        if kind == "uvicorn":
            cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port),
                   "--lifespan", "on", "--timeout-graceful-shutdown", "1", "--no-access-log",
                   "--app-dir", str(APP_DIR), "bus_app:app"]  # fmt: skip
        else:
            cmd = [sys.executable, "-m", "granian", "--interface", kind.split("-")[1], "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "2", "--working-dir", str(APP_DIR),
                   "--workers-kill-timeout", "2", "bus_app:app"]  # fmt: skip
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                cmd, cwd=APP_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"{self.kind} exited:\n{self.log.read_text()}"
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.kind} not ready:\n{self.log.read_text()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the server and its workers: no shutdown code runs."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Server]]:
    env = dict(
        os.environ,
        GOBSTOPPER_BUS_URL=service_url("GOBSTOPPER_TEST_REDIS_URL"),
        GOBSTOPPER_BUS_PREFIX=f"t:{uuid.uuid4().hex}:",
        PYTHONUNBUFFERED="1",
    )
    servers = [Server(kind, env, tmp_path) for kind in ("granian-rsgi", "granian-asgi", "uvicorn")]
    try:
        for server in servers:
            server.wait_ready()
        # Five processes (2 + 2 + 1), each listening on the bus: each answers the "node" request.
        deadline = time.monotonic() + 30
        while len(httpx.get(servers[0].url + "/nodes", timeout=5).json()) != 5:
            assert time.monotonic() < deadline, "not every process joined the bus"
            time.sleep(0.1)
        yield servers
    finally:
        for server in servers:
            server.stop()


async def eventually(check: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"{what} not met in time"
        await asyncio.sleep(0.02)


# -- WebSocket rooms -----------------------------------------------------------------------------------------


@dataclass
class WSClient:
    id: str
    room: str
    server: Server
    ws: Any
    pid: str = ""
    received: list[str] = field(default_factory=list)
    closed: bool = False

    async def read(self) -> None:
        try:
            async for message in self.ws:
                self.received.append(message)
        except Exception:
            pass
        self.closed = True


def test_room_broadcasts_reach_every_process_exactly_once(cluster: list[Server]) -> None:
    from websockets.asyncio.client import connect

    async def main() -> None:
        clients: list[WSClient] = []
        for n in range(100):
            server, room = cluster[n % 3], ROOMS[n % 5]
            ws = await connect(f"ws://127.0.0.1:{server.port}/ws/{room}?id=c{n}", open_timeout=10)
            greeting = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(greeting, str) and greeting.startswith("joined ")
            clients.append(WSClient(f"c{n}", room, server, ws, greeting.split()[1]))
        readers = [asyncio.create_task(c.read()) for c in clients]
        by_room = {room: {c.id for c in clients if c.room == room} for room in ROOMS}
        # Spread over the five processes (granian hands each worker its share of the connections).
        assert len({c.pid for c in clients}) == 5, Counter(c.pid for c in clients)

        async with httpx.AsyncClient(timeout=10) as http:
            # Membership: local on the process asked, global across all five.
            for server in cluster:
                answer = (await http.get(server.url + "/rooms/r0")).json()
                assert answer["global"] == sorted(by_room["r0"])
                here = {c.id for c in clients if c.room == "r0" and c.pid == answer["pid"]}
                assert set(answer["local"]) == here

            async def round_of_broadcasts(label: str, live: list[WSClient], servers: list[Server]) -> None:
                expected: dict[str, list[str]] = {room: [] for room in ROOMS}
                for index, room in enumerate(ROOMS):
                    sender = [c for c in live if c.room == room][index % 2]
                    text = f"{label} ws {room} from {sender.server.kind}"
                    await sender.ws.send(text)  # the handler broadcasts it to its room
                    expected[room].append(text)
                    server = servers[index % len(servers)]
                    text = f"{label} http {room} via {server.kind}"
                    assert (await http.post(f"{server.url}/broadcast/{room}", content=text)).status_code == 200
                    expected[room].append(text)
                everyone = f"{label} everyone"
                await http.post(f"{servers[-1].url}/broadcast/*", content=everyone)
                for room in ROOMS:
                    expected[room].append(everyone)
                await eventually(
                    lambda: all(len(c.received) >= len(expected[c.room]) for c in live), what="every delivery"
                )
                await asyncio.sleep(0.3)  # a duplicate would have arrived by now
                for c in live:
                    assert Counter(c.received) == Counter(expected[c.room]), (c.id, c.room, c.pid, c.received)
                    c.received.clear()

            await round_of_broadcasts("first", clients, cluster)

            # Kill granian asgi (two workers): its clients are dropped, nobody else's.
            victim = cluster[1]
            victim.kill()
            dropped = [c for c in clients if c.server is victim]
            survivors = [c for c in clients if c.server is not victim]
            await eventually(lambda: all(c.closed for c in dropped), what="the killed server's sockets closing")
            assert not any(c.closed for c in survivors)
            await round_of_broadcasts("second", survivors, [cluster[0], cluster[2]])
            answer = (await http.get(cluster[2].url + "/rooms/r1")).json()
            assert answer["global"] == sorted(c.id for c in survivors if c.room == "r1")
            assert len((await http.get(cluster[0].url + "/nodes")).json()) == 3

        for c in clients:
            await c.ws.close()
        await asyncio.wait(readers, timeout=5)

    asyncio.run(main())


# -- SSE topics ----------------------------------------------------------------------------------------------


@dataclass
class SSEClient:
    topic: str
    server: Server
    events: list[dict[str, str]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> str | None:
        ids = [e["id"] for e in self.events if "id" in e]
        return ids[-1] if ids else None

    async def run(self, http: httpx.AsyncClient, last_event_id: str | None = None) -> None:
        headers = {"last-event-id": last_event_id} if last_event_id else {}
        fields: dict[str, str] = {}
        try:
            async with http.stream("GET", f"{self.server.url}/events/{self.topic}", headers=headers) as response:
                assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.subscribed.set()
                    elif line == "":
                        if fields:
                            self.events.append(fields)
                        fields = {}
                    else:
                        name, _, value = line.partition(": ")
                        fields[name] = value
        except (httpx.HTTPError, AssertionError):
            pass
        self.ended = True

    def start(self, http: httpx.AsyncClient, last_event_id: str | None = None) -> None:
        self.ended = False
        self.subscribed = asyncio.Event()
        self.task = asyncio.create_task(self.run(http, last_event_id))


def test_topics_reach_every_process_and_resume_from_last_event_id(cluster: list[Server]) -> None:
    topics = ["news", "scores"]

    async def main() -> None:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None), limits=limits) as http:
            clients = [SSEClient(topics[n % 2], cluster[n % 3]) for n in range(12)]
            for c in clients:
                c.start(http)
            for c in clients:
                await asyncio.wait_for(c.subscribed.wait(), 10)

            async def publish(topic: str, text: str, server: Server) -> str:
                answer = await http.post(f"{server.url}/publish/{topic}", content=text)
                event_id = answer.json()["id"]
                assert event_id, answer.text
                return str(event_id)

            published: dict[str, list[tuple[str, str]]] = {t: [] for t in topics}
            for n in range(6):
                topic, server = topics[n % 2], cluster[n % 3]
                published[topic].append((await publish(topic, f"{topic} {n}", server), f"{topic} {n}"))

            def seen(c: SSEClient) -> list[tuple[str, str]]:
                return [(e["id"], e["data"]) for e in c.events if e.get("event") == "note"]

            await eventually(lambda: all(len(seen(c)) >= 3 for c in clients), what="every stream's events")
            await asyncio.sleep(0.3)
            for c in clients:
                assert seen(c) == published[c.topic], (c.topic, c.server.kind)

            # One news reader leaves; three events are published meanwhile; it comes back to another server with
            # Last-Event-ID and gets exactly those, in order, then live ones.
            leaver = clients[0]
            assert leaver.task is not None
            leaver.task.cancel()
            await asyncio.wait([leaver.task])
            resume_from = leaver.last_id
            missed = [(await publish("news", f"missed {n}", cluster[n % 3]), f"missed {n}") for n in range(3)]
            leaver.events.clear()
            leaver.server = cluster[(cluster.index(leaver.server) + 1) % 3]
            leaver.start(http, resume_from)
            await asyncio.wait_for(leaver.subscribed.wait(), 10)
            await eventually(lambda: len(seen(leaver)) >= 3, what="the replay")
            assert seen(leaver) == missed
            live = await publish("news", "after the replay", cluster[2])
            await eventually(lambda: len(seen(leaver)) >= 4, what="a live event after the replay")
            assert seen(leaver)[3] == (live, "after the replay")

            # Killing a server ends its streams only; the others get the next event.
            victim = cluster[2]
            victim.kill()
            await eventually(lambda: all(c.ended for c in clients if c.server is victim), what="streams ending")
            still = [c for c in clients if c.server is not victim]
            assert not any(c.ended for c in still)
            final = await publish("scores", "final", cluster[0])
            await eventually(
                lambda: all(seen(c)[-1][0] == final for c in still if c.topic == "scores"), what="the last event"
            )
            for c in clients:
                if c.task is not None:
                    c.task.cancel()
            await asyncio.wait([c.task for c in clients if c.task is not None], timeout=5)

    asyncio.run(main())
