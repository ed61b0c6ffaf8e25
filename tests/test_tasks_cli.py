"""``gobstopper cleanup-tasks`` and ``gobstopper tasks list|info|retry|cancel`` on a DuckDB file (the storage-only
commands; ``run-tasks`` runs as a real process in tests/test_tasks_processes.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_tasks_backends import new_task

from gobstopper.cli import main as cli_main
from gobstopper.tasks import TaskStatus, TaskStorage
from gobstopper.tasks.models import utcnow

pytestmark = pytest.mark.timeout(60)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_main.cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = str(tmp_path / "tasks.duckdb")
    storage = TaskStorage(path)
    now = utcnow()
    storage.save_task(new_task("old", id="old-done", status=TaskStatus.SUCCESS, completed_at=now - timedelta(days=10)))
    storage.save_task(new_task("new", id="new-done", status=TaskStatus.SUCCESS, completed_at=now))
    storage.save_task(new_task("dead", id="dead", status=TaskStatus.FAILED, error="Boom: x", attempts=1))
    storage.save_task(new_task("wait", id="waiting", created_at=now - timedelta(days=30)))
    storage.close_sync()
    return path


def test_tasks_list_info_retry_cancel(database: str) -> None:
    code, out = invoke("tasks", "list", "--database", database)
    assert code == 0 and len(out.splitlines()) == 4 and "error=Boom: x" in out
    code, out = invoke("tasks", "list", "--status", "failed", "--json", "--database", database)
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == ["dead"]
    code, out = invoke("tasks", "info", "dead", "--database", database)
    assert code == 0 and json.loads(out)["error"] == "Boom: x"
    assert invoke("tasks", "info", "nope", "--database", database) == (1, "Error: no task nope\n")
    code, out = invoke("tasks", "retry", "dead", "--database", database)
    assert code == 0 and "queued again" in out
    assert invoke("tasks", "retry", "dead", "--database", database)[0] == 1  # not failed any more
    code, out = invoke("tasks", "cancel", "waiting", "--database", database)
    assert code == 0 and "cancelled" in out
    code, out = invoke("tasks", "cancel", "new-done", "--database", database)
    assert code == 1 and "is finished" in out
    storage = TaskStorage(database)
    try:
        assert storage.get_task("dead").status is TaskStatus.PENDING
        assert storage.get_task("waiting").status is TaskStatus.CANCELLED
    finally:
        storage.close_sync()


def test_cleanup_tasks_deletes_only_old_finished_tasks(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("cleanup-tasks", "--database", database)[0] == 2  # usage: a period is required
    monkeypatch.setenv("GOBSTOPPER_TASKS_DATABASE", database)
    code, out = invoke("cleanup-tasks", "--days", "7")
    assert code == 0 and out.startswith("deleted 1 finished task(s)")
    storage = TaskStorage(database)
    try:
        assert storage.get_task("old-done") is None
        assert {t.id for t in storage.get_tasks()} == {"new-done", "dead", "waiting"}  # pending ones never go
        assert storage.cleanup_old_tasks() == 0
        assert storage.cleanup_old_tasks(months=1) == 0
    finally:
        storage.close_sync()


def test_run_tasks_refuses_a_disabled_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "offapp.py").write_text("from gobstopper import Gobstopper\napp = Gobstopper(__name__)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOBSTOPPER_TASKS_ENABLED", raising=False)
    monkeypatch.delenv("WOPR_TASKS_ENABLED", raising=False)
    code, out = invoke("run-tasks", "offapp:app")
    assert code == 1 and "GOBSTOPPER_TASKS_ENABLED=1" in out
    code, out = invoke("run-tasks", "missing_module:app")
    assert code == 2 and "cannot load" in out
