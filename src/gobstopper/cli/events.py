"""Event and storage commands: ``eda dlq list|replay`` and ``migrate duckdb-to-postgres``.

The reference migrated its DuckDB data to SurrealDB (``migrate duckdb-to-surreal``); this project does not use
SurrealDB, so the migration goes to PostgreSQL, the backend for several processes and hosts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
import msgspec

from gobstopper.cli.tasks import CONTEXT_SETTINGS, database_option, run_storage


@click.group("eda", context_settings=CONTEXT_SETTINGS)
def eda_group() -> None:
    """Events: dead letters and their replay."""


@eda_group.group("dlq", context_settings=CONTEXT_SETTINGS)
def dlq_group() -> None:
    """Dead letters: deliveries of an event to a handler that used up their retries."""


@dlq_group.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--handler", help="Only this handler.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@database_option
def dlq_list(handler: str | None, limit: int, as_json: bool, database: str) -> None:
    """List dead letters, oldest first."""
    letters = run_storage(database, lambda s: s.list_dead_letters(handler=handler, limit=limit))
    for letter in letters:
        if as_json:
            click.echo(msgspec.json.encode(letter).decode())
        else:
            click.echo(
                f"{letter.event_id}  {letter.event_type}  {letter.handler}  attempts={letter.attempts}  "
                f"failed={letter.failed_at:%Y-%m-%d %H:%M:%S}  error={letter.error}"
            )
    if not letters and not as_json:
        click.echo("no dead letters")


@dlq_group.command("replay", context_settings=CONTEXT_SETTINGS)
@click.argument("event_id", required=False)
@click.option("--handler", help="Only this handler (with EVENT_ID: that one delivery).")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (or every one of --handler).")
@click.option("--category", default="events", show_default=True, help="Task category of deliveries.")
@database_option
def dlq_replay(event_id: str | None, handler: str | None, replay_all: bool, category: str, database: str) -> None:
    """Deliver dead letters again (the workers of the events category pick them up)."""
    from gobstopper.eda.bus import replay_dead_letter

    if not event_id and not replay_all:
        raise click.UsageError("give EVENT_ID, or --all")

    async def work(storage: Any) -> int:
        letters = await storage.list_dead_letters(handler=handler, limit=100_000)
        if event_id:
            letters = [letter for letter in letters if letter.event_id == event_id]
        for letter in letters:
            await replay_dead_letter(storage, letter, category)
        return len(letters)

    count = run_storage(database, work)
    if event_id and not count:
        raise click.ClickException(f"no dead letter for event {event_id}")
    click.echo(f"replayed {count} dead letter(s)")


@click.group("migrate", context_settings=CONTEXT_SETTINGS)
def migrate_group() -> None:
    """Move stored data between backends."""


@migrate_group.command("duckdb-to-postgres", context_settings=CONTEXT_SETTINGS)
@click.option("--source", default="gobstopper_tasks.duckdb", show_default=True, help="The DuckDB file.")
@click.option("--target", envvar="GOBSTOPPER_TASKS_DATABASE", required=True, help="postgresql:// DSN.")
@click.option("--prefix", default="gobstopper", show_default=True, help="Table prefix in PostgreSQL.")
@click.option("--dry-run", is_flag=True, help="Count what would be copied; write nothing.")
def duckdb_to_postgres(source: str, target: str, prefix: str, dry_run: bool) -> None:
    """Copy tasks, events and dead letters from a DuckDB file into PostgreSQL (stop the app first).

    Rows already in PostgreSQL (same id) are left as they are, so the command can be run again. Tasks that were
    running when the DuckDB owner stopped are copied as pending.
    """
    from gobstopper.tasks._backend import TaskStorageLocked
    from gobstopper.tasks.models import TaskStatus
    from gobstopper.tasks.postgres import PostgresTaskStorage
    from gobstopper.tasks.storage import TaskStorage

    if not target.startswith(("postgres://", "postgresql://")):
        raise click.UsageError("--target must be a postgresql:// DSN")

    async def main() -> dict[str, int]:
        import asyncpg

        duck = TaskStorage(source)
        pg = PostgresTaskStorage(target, prefix=prefix)
        copied = {"tasks": 0, "events": 0, "dead_letters": 0, "skipped": 0}
        try:
            await duck.open()
            if not dry_run:
                await pg.open()
            page = 0
            while batch := await duck.query(limit=1000, offset=page * 1000):
                page += 1
                for task in batch:
                    if task.status is TaskStatus.STARTED:
                        task.status, task.lease_owner, task.lease_expires_at = TaskStatus.PENDING, None, None
                    if dry_run:
                        copied["tasks"] += 1
                        continue
                    try:
                        stored = await pg.enqueue(task)
                    except asyncpg.UniqueViolationError:
                        copied["skipped"] += 1
                        continue
                    copied["tasks" if stored == task.id else "skipped"] += 1
            offset = 0
            while events := await duck.list_events(limit=1000, offset=offset):
                offset += len(events)
                for event in events:
                    if not dry_run:
                        await pg.append_event(event, [])
                    copied["events"] += 1
            for letter in await duck.list_dead_letters(limit=1_000_000):
                if not dry_run:
                    await pg.put_dead_letter(letter)
                copied["dead_letters"] += 1
        finally:
            await duck.close()
            await pg.close()
        return copied

    try:
        copied = asyncio.run(main())
    except TaskStorageLocked as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "would copy" if dry_run else "copied"
    click.echo(
        f"{verb} {copied['tasks']} task(s), {copied['events']} event(s), {copied['dead_letters']} dead letter(s)"
        + (f"; {copied['skipped']} task(s) already in PostgreSQL" if copied["skipped"] else "")
    )


COMMANDS = (eda_group, migrate_group)
