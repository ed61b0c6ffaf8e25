"""Events (gobstopper.eda): publish by type, durable store, deliveries as tasks, dead letters, replay; the CLI's
``eda dlq list|replay`` and ``migrate duckdb-to-postgres`` (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from _services import service_url
from click.testing import CliRunner

from gobstopper import Gobstopper
from gobstopper.cli import main as cli_main
from gobstopper.eda import EventBus, EventEnvelope, new_event
from gobstopper.tasks import MemoryTaskStorage, TaskQueue, TaskStatus, TaskStorage
from gobstopper.testing import TestClient

pytestmark = pytest.mark.timeout(60)


def make_bus(storage: Any = None, **options: Any) -> EventBus:
    storage = storage or MemoryTaskStorage()
    queue = TaskQueue(enabled=True, storage_factory=lambda: storage, poll_interval=0.02, retry_base=0.01)
    return EventBus(queue, **options)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_new_event_uses_cloudevents_names() -> None:
    event = new_event("user.created", {"id": 1}, subject="1")
    assert isinstance(event, EventEnvelope) and event.type == "user.created" and event.source == "gobstopper"
    assert uuid.UUID(event.id) and event.subject == "1" and event.data == {"id": 1}
    assert EventEnvelope.from_record(event.to_record()) == event
    with pytest.raises(ValueError, match="non-empty type"):
        new_event("")


def test_publish_delivers_to_each_subscriber_of_the_type() -> None:
    bus = make_bus()
    got: list[tuple[str, Any]] = []

    @bus.subscribe("user.created")
    async def welcome(event: EventEnvelope) -> None:
        got.append(("welcome", event.data))

    @bus.subscribe("user.created", name="audit")
    def audit(event: EventEnvelope) -> None:  # sync handlers run in a thread
        got.append(("audit", event.data))

    @bus.subscribe("*", name="everything")
    async def everything(event: EventEnvelope) -> None:
        got.append(("everything", event.type))

    async def scenario() -> None:
        await bus.start(worker_count=2)
        event = await bus.publish("user.created", {"id": 7}, subject="7")
        again = await bus.publish("user.deleted", None)
        await until(lambda: len(got) == 4)
        assert sorted(got, key=str) == sorted(
            [
                ("welcome", {"id": 7}),
                ("audit", {"id": 7}),
                ("everything", "user.created"),
                ("everything", "user.deleted"),
            ],
            key=str,
        )
        assert await bus.get_event(event.id) == event
        assert [e.id for e in await bus.events()] == [event.id, again.id]
        assert bus.handlers_for("user.created") == [f"{__name__}.{welcome.__qualname__}", "audit", "everything"]
        with pytest.raises(TypeError):
            await bus.publish("user.created", object())
        assert len(await bus.events()) == 2  # nothing stored for the refused event
        await bus.queue.shutdown()

    asyncio.run(scenario())


def test_a_failing_handler_becomes_a_dead_letter_and_replays() -> None:
    bus = make_bus(max_retries=1)
    fixed = {"done": False}
    seen: list[str] = []

    @bus.subscribe("order.paid", name="ship")
    async def ship(event: EventEnvelope) -> None:
        if not fixed["done"]:
            raise ConnectionError("carrier down")
        seen.append(event.id)

    async def scenario() -> None:
        await bus.start()
        event = await bus.publish("order.paid", {"order": 1})
        await until(bus.dead_letters)
        [letter] = await bus.dead_letters()
        assert (letter.event_id, letter.handler, letter.event_type) == (event.id, "ship", "order.paid")
        assert letter.error == "ConnectionError: carrier down" and letter.attempts == 2
        task = await bus.queue.get_task_info(letter.task_id)
        assert task is not None and task.status is TaskStatus.FAILED
        fixed["done"] = True
        assert await bus.replay_dead_letters() == 1
        await until(lambda: seen == [event.id])
        assert await bus.dead_letters() == []
        # Replaying stored events delivers them again (to every current handler, or one).
        assert await bus.replay(type="order.paid", handler="ship") == 1
        await until(lambda: seen == [event.id, event.id])
        await bus.queue.shutdown()

    asyncio.run(scenario())


def test_the_bus_is_an_extension_on_the_apps_task_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "1")
    monkeypatch.setenv("GOBSTOPPER_TASKS_DATABASE", "memory")
    app = Gobstopper(__name__)
    bus = app.register_extension(EventBus(workers=1))
    received: list[Any] = []

    @bus.subscribe("ping")
    async def on_ping(event: EventEnvelope) -> None:
        received.append(event.data)

    @app.post("/ping")
    async def ping(request: Any) -> dict[str, str]:
        event = await bus.publish("ping", await request.json())
        return {"event": event.id}

    assert bus.queue is app.task_queue and app.extensions["events"] is bus
    with TestClient(app) as client:
        assert client.post("/ping", json={"n": 1}).status_code == 200
        for _ in range(500):
            if received:
                break
            client.portal.call(asyncio.sleep, 0.01)
    assert received == [{"n": 1}]


def test_cli_dlq_list_and_replay_on_a_duckdb_file(tmp_path: Path) -> None:
    database = str(tmp_path / "events.duckdb")
    bus = make_bus(TaskStorage(database), max_retries=0)

    @bus.subscribe("report.due", name="mailer")
    async def mailer(event: EventEnvelope) -> None:
        raise RuntimeError("smtp refused")

    async def scenario() -> str:
        await bus.start()
        event = await bus.publish("report.due", {"id": 3})
        await until(bus.dead_letters)
        await bus.queue.shutdown()  # closes the file for the CLI
        return event.id

    event_id = asyncio.run(scenario())
    runner = CliRunner()
    listed = runner.invoke(cli_main.cli, ["eda", "dlq", "list", "--database", database])
    assert listed.exit_code == 0 and event_id in listed.output and "RuntimeError: smtp refused" in listed.output
    assert runner.invoke(cli_main.cli, ["eda", "dlq", "replay", "--database", database]).exit_code == 2  # usage
    missing = runner.invoke(cli_main.cli, ["eda", "dlq", "replay", "nope", "--database", database])
    assert missing.exit_code == 1 and "no dead letter" in missing.output
    replayed = runner.invoke(cli_main.cli, ["eda", "dlq", "replay", event_id, "--database", database])
    assert replayed.exit_code == 0 and "replayed 1" in replayed.output
    after = runner.invoke(cli_main.cli, ["eda", "dlq", "list", "--database", database])
    assert "no dead letters" in after.output
    storage = TaskStorage(database)
    try:
        [task] = storage.get_tasks(category="events")
        assert task.status is TaskStatus.PENDING and task.attempts == 0  # waits for a worker of "events"
    finally:
        storage.close_sync()


def test_migrate_duckdb_to_postgres(tmp_path: Path) -> None:
    dsn = service_url("GOBSTOPPER_TEST_POSTGRES_DSN")
    prefix = f"m_{uuid.uuid4().hex[:10]}"
    database = str(tmp_path / "old.duckdb")
    bus = make_bus(TaskStorage(database), max_retries=0)

    @bus.subscribe("x", name="bad")
    async def bad(event: EventEnvelope) -> None:
        raise ValueError("no")

    @bus.queue.register_task("later")
    async def later() -> None:
        return None

    async def fill() -> None:
        await bus.queue.add_task("later", delay=3600)
        await bus.start()
        await bus.publish("x", [1, 2])
        await until(bus.dead_letters)
        await bus.queue.shutdown()

    asyncio.run(fill())
    runner = CliRunner()
    args = ["migrate", "duckdb-to-postgres", "--source", database, "--target", dsn, "--prefix", prefix]
    dry = runner.invoke(cli_main.cli, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "would copy 2 task(s), 1 event(s), 1 dead letter(s)" in dry.output
    done = runner.invoke(cli_main.cli, args)
    assert done.exit_code == 0 and "copied 2 task(s), 1 event(s), 1 dead letter(s)" in done.output
    again = runner.invoke(cli_main.cli, args)
    assert again.exit_code == 0 and "2 task(s) already in PostgreSQL" in again.output

    async def check() -> None:
        from gobstopper.tasks.postgres import PostgresTaskStorage

        pg = PostgresTaskStorage(dsn, prefix=prefix)
        try:
            statuses = sorted(s for s, _, _ in await pg.counts())
            assert statuses == ["failed", "pending"]
            [letter] = await pg.list_dead_letters()
            assert letter.handler == "bad" and letter.error == "ValueError: no"
            [event] = await pg.list_events()
            assert event.type == "x" and event.data == "[1,2]"
        finally:
            import asyncpg

            conn = await asyncpg.connect(dsn)
            for table in ("tasks", "events", "dead_letters"):
                await conn.execute(f"DROP TABLE IF EXISTS {prefix}_{table}")
            await conn.close()
            await pg.close()

    asyncio.run(check())
