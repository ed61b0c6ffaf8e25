"""The TechEmpower verifier: benchmarks/techempower/app.py on real granian rsgi and uvicorn servers and the real
PostgreSQL of the suite, checked against the benchmark's rules (TechEmpower "Framework Tests Overview" and its
``toolset/test_types`` verifiers): headers, JSON shapes, the 1..500 clamp and non-numbers as 1, the extra fortune,
sorting, escaping, ``text/html; charset=utf-8``, updates persisted."""

from __future__ import annotations

import asyncio
import html.parser
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._services import service_url

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "benchmarks" / "techempower"


def load_schema() -> Any:
    spec = importlib.util.spec_from_file_location("techempower_schema", APP_DIR / "schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


schema = load_schema()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of its own, filled by schema.py, dropped at the end."""
    import asyncpg

    admin = service_url("GOBSTOPPER_TEST_POSTGRES_DSN")
    name = f"te_{uuid.uuid4().hex[:12]}"
    dsn = admin.rsplit("/", 1)[0] + "/" + name

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    asyncio.run(schema.create(dsn))
    yield dsn
    asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="module", params=["granian-rsgi", "uvicorn"])
def server(request: pytest.FixtureRequest, database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    kind, port = request.param, free_port()
    if kind == "uvicorn":
        cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on",
               "--no-access-log", "app:app"]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "granian", "--interface", "rsgi", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "app:app"]  # fmt: skip
    log = tmp_path_factory.mktemp("techempower") / f"{kind}.log"
    env = dict(os.environ, TECHEMPOWER_DSN=database, TECHEMPOWER_POOL_SIZE="4", PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=APP_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def get(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    # Every test type: Server and Date headers, and a length or chunked framing.
    assert response.headers.get("server"), "Server header"
    assert response.headers.get("date"), "Date header"
    assert response.headers.get("content-length") or response.headers.get("transfer-encoding") == "chunked"
    return response


def check_world(world: Any) -> tuple[int, int]:
    assert isinstance(world, dict) and set(world) == {"id", "randomNumber"}, world
    world_id, number = world["id"], world["randomNumber"]
    assert type(world_id) is int and 1 <= world_id <= 10_000, world
    assert type(number) is int and 1 <= number <= 10_000, world
    return world_id, number


def read_worlds(dsn: str, ids: list[int]) -> dict[int, int]:
    import asyncpg

    async def read() -> dict[int, int]:
        connection = await asyncpg.connect(dsn)
        try:
            rows = await connection.fetch("SELECT id, randomnumber FROM world WHERE id = ANY($1::integer[])", ids)
        finally:
            await connection.close()
        return {row["id"]: row["randomnumber"] for row in rows}

    return asyncio.run(read())


# The verifier's query strings and the count each one must give.
COUNTS = [("", 1), ("2", 2), ("0", 1), ("-1", 1), ("foo", 1), ("501", 500), ("20", 20), ("1", 1)]


def test_json(server: str) -> None:
    response = get(server + "/json")
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"message": "Hello, World!"}
    assert int(response.headers["content-length"]) == len(response.content) == 27


def test_plaintext(server: str) -> None:
    response = get(server + "/plaintext")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.content == b"Hello, World!"


def test_single_query(server: str, database: str) -> None:
    response = get(server + "/db")
    assert response.headers["content-type"].startswith("application/json")
    world_id, number = check_world(response.json())
    assert read_worlds(database, [world_id]) == {world_id: number}


@pytest.mark.parametrize("path", ["/queries?queries=", "/cached-queries?count="])
def test_multiple_and_cached_queries_clamp_and_shape(server: str, database: str, path: str) -> None:
    for raw, count in COUNTS:
        response = get(server + path + raw)
        assert response.headers["content-type"].startswith("application/json")
        worlds = response.json()
        assert isinstance(worlds, list) and len(worlds) == count, (raw, len(worlds))
        pairs = dict(check_world(world) for world in worlds)
        if count == 20:
            assert read_worlds(database, list(pairs)) == pairs  # the values are the database's
    # No parameter at all counts as 1.
    assert len(get(server + path.split("?")[0]).json()) == 1


def test_updates_are_persisted(server: str, database: str) -> None:
    for raw, count in COUNTS:
        response = get(server + "/updates?queries=" + raw)
        assert response.headers["content-type"].startswith("application/json")
        worlds = response.json()
        assert isinstance(worlds, list) and len(worlds) == count, (raw, len(worlds))
        pairs = dict(check_world(world) for world in worlds)
        assert len(pairs) == count  # each row once
        assert read_worlds(database, list(pairs)) == pairs  # what was answered is what is stored
    # Updates really change rows: over 500 rows, new random numbers cannot all equal the old ones.
    before = read_worlds(database, list(range(1, 10_001)))
    changed = get(server + "/updates?queries=500").json()
    after = read_worlds(database, [w["id"] for w in changed])
    assert sum(before[i] != after[i] for i in after) > 400


class _Table(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_fortunes(server: str) -> None:
    response = get(server + "/fortunes")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    body = response.content.decode("utf-8")
    assert body.lstrip().lower().startswith("<!doctype html>")
    assert "<script>" not in body and "&lt;script&gt;" in body  # escaped, not executed
    table = _Table()
    table.feed(body)
    assert "script" not in table.tags
    assert table.rows[0] == ["id", "message"]
    expected = [(i, m) for i, m in enumerate(schema.FORTUNES, start=1)]
    expected.append((0, "Additional fortune added at request time."))
    expected.sort(key=lambda row: row[1])
    assert [(int(i), m) for i, m in table.rows[1:]] == expected
    assert "フレームワークのベンチマーク" in body  # UTF-8, not escaped to entities
