"""Task commands: ``run-tasks`` (a worker process), ``cleanup-tasks``, ``tasks list|info|retry|cancel``.

``run-tasks`` imports the app (for its task functions) and runs its queue's workers until SIGTERM or Ctrl+C, then
shuts down gracefully (running tasks get the queue's ``shutdown_timeout``, the rest are released). The other
commands only need the storage: ``--database`` (default ``GOBSTOPPER_TASKS_DATABASE``, else
``gobstopper_tasks.duckdb``) takes a ``postgresql://`` DSN, ``memory`` or a DuckDB file path.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from gobstopper.cli.serve import TargetError, normalize_target

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}
T = TypeVar("T")

database_option = click.option(
    "--database",
    envvar="GOBSTOPPER_TASKS_DATABASE",
    default="gobstopper_tasks.duckdb",
    show_default=True,
    help="postgresql:// DSN, or a DuckDB file (env GOBSTOPPER_TASKS_DATABASE).",
)


def load_app(target: str) -> Any:
    """Import ``module:attribute`` from the current directory and return the object.

    Raises:
        click.UsageError: the target is malformed or cannot be imported.
    """
    try:
        target = normalize_target(target)
    except TargetError as exc:
        raise click.UsageError(str(exc)) from exc
    module_name, _, attr = target.partition(":")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise click.UsageError(f"cannot load {target!r}: {exc}") from exc
    return obj


def run_storage(database: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the storage ``database`` names, run ``work(storage)``, close it; storage errors become clean exits."""
    from gobstopper.tasks._backend import TaskStorageLocked
    from gobstopper.tasks.queue import storage_from_url

    async def main() -> T:
        storage = storage_from_url(database)
        try:
            await storage.open()
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except TaskStorageLocked as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot open task storage {database!r}: {exc}") from exc


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


@click.command("run-tasks", context_settings=CONTEXT_SETTINGS)
@click.argument("app", default="app:app", metavar="[MODULE:APP]")
@click.option("-c", "--categories", default="default", show_default=True, help="Comma-separated categories to run.")
@click.option(
    "-w", "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Tasks run at once per category."
)
@click.option(
    "--startup/--no-startup",
    default=True,
    show_default=True,
    help="Run the app's startup and shutdown handlers around the workers (what the tasks may need).",
)
def run_tasks(app: str, categories: str, workers: int, startup: bool) -> None:
    """Run task workers for MODULE:APP (default app:app) until SIGTERM or Ctrl+C.

    \b
    Examples:
      gobstopper run-tasks --categories data,notifications --workers 3
      GOBSTOPPER_TASKS_DATABASE=postgresql://... gobstopper run-tasks myapp:app -c emails -w 10
    """
    application = load_app(app)
    names = [c.strip() for c in categories.split(",") if c.strip()]
    if not names:
        raise click.UsageError("--categories needs at least one category")
    queue = application.task_queue
    if not queue.enabled:
        raise click.ClickException(
            "background tasks are disabled: set GOBSTOPPER_TASKS_ENABLED=1 (or give the app an enabled TaskQueue)"
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if startup:
            await application.startup()
        try:
            for name in names:
                await queue.start_workers(name, workers)
            click.echo(
                f"gobstopper: running tasks of {', '.join(names)} ({workers} at a time each; pid {os.getpid()})",
                err=True,
            )
            await stop.wait()
            click.echo("gobstopper: stopping workers", err=True)
        finally:
            if startup:
                await application.shutdown()  # the tasks extension stops the queue after the app's handlers
            await queue.shutdown()

    from gobstopper.tasks._backend import TaskStorageLocked

    try:
        asyncio.run(main())
    except TaskStorageLocked as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("cleanup-tasks", context_settings=CONTEXT_SETTINGS)
@click.option("--days", type=click.IntRange(min=1), help="Delete finished tasks completed over N days ago.")
@click.option("--months", type=click.IntRange(min=1), help="Delete finished tasks completed over N×30 days ago.")
@database_option
def cleanup_tasks(days: int | None, months: int | None, database: str) -> None:
    """Delete finished tasks (success, failed, cancelled) older than --days or --months."""
    if not days and not months:
        raise click.UsageError("give --days N or --months N")
    from gobstopper.tasks.models import utcnow

    before = utcnow() - timedelta(days=(days or 0) + 30 * (months or 0))
    deleted = run_storage(database, lambda storage: storage.purge(before))
    click.echo(f"deleted {deleted} finished task(s) completed before {before:%Y-%m-%d %H:%M} UTC")


@click.group("tasks", context_settings=CONTEXT_SETTINGS)
def tasks_group() -> None:
    """Inspect and steer stored tasks (list, info, retry, cancel)."""


@tasks_group.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--category", help="Only this category.")
@click.option(
    "--status",
    type=click.Choice(["pending", "started", "success", "failed", "cancelled", "retry"]),
    help="Only this status.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@database_option
def list_tasks(category: str | None, status: str | None, limit: int, as_json: bool, database: str) -> None:
    """List tasks, newest first."""
    from gobstopper.tasks.models import TaskStatus

    wanted = TaskStatus(status) if status else None
    found = run_storage(database, lambda s: s.query(category=category, status=wanted, limit=limit))
    for task in found:
        if as_json:
            click.echo(msgspec.json.encode(_plain(task)).decode())
        else:
            click.echo(
                f"{task.id}  {task.status.value:<9}  {task.category}/{task.name}  "
                f"attempts={task.attempts}/{task.max_attempts}  created={task.created_at:%Y-%m-%d %H:%M:%S}"
                + (f"  error={task.error}" if task.error else "")
            )


@tasks_group.command("info", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id")
@database_option
def task_info(task_id: str, database: str) -> None:
    """Print one task as JSON (status, result, error, attempts, lease...)."""
    task = run_storage(database, lambda s: s.fetch(task_id))
    if task is None:
        raise click.ClickException(f"no task {task_id}")
    click.echo(msgspec.json.format(msgspec.json.encode(_plain(task))).decode())


@tasks_group.command("retry", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id")
@database_option
def retry(task_id: str, database: str) -> None:
    """Put a dead (failed) task back in the queue with a fresh set of attempts."""
    if not run_storage(database, lambda s: s.requeue(task_id)):
        raise click.ClickException(f"task {task_id} is not failed (or does not exist)")
    click.echo(f"task {task_id} queued again")


@tasks_group.command("cancel", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id")
@database_option
def cancel(task_id: str, database: str) -> None:
    """Cancel a waiting task, or ask the worker of a running one to stop it."""
    if not run_storage(database, lambda s: s.cancel(task_id)):
        raise click.ClickException(f"task {task_id} is finished (or does not exist)")
    click.echo(f"task {task_id} cancelled")


COMMANDS = (run_tasks, cleanup_tasks, tasks_group)
