"""``gobstopper run --reload`` on real servers (Granian RSGI, uvicorn): an edited template is served by the next
request, an edited Python file within 2 s, a broken edit is survived, and database/log/virtualenv files never
restart the workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.servers

APP = """
import os

from gobstopper import Gobstopper

VERSION = "{version}"
app = Gobstopper(__name__)
app.init_templates("templates")


@app.get("/state")
async def state(request):
    return {{"version": VERSION, "pid": os.getpid()}}


@app.get("/page")
async def page(request):
    return await app.render_template("page.html", name="reload")
"""

#: The bound the issue sets for a Python edit to be served (a bounded wait, not a timing assertion).
PYTHON_EDIT_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def state(port: int) -> dict[str, Any] | None:
    try:
        status, body = get(f"http://127.0.0.1:{port}/state")
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def wait_for(condition: Any, timeout: float) -> float:
    """Poll ``condition()`` every 20 ms; return the seconds it took (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(params=["granian", "uvicorn"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    project = tmp_path / "project"
    (project / "templates").mkdir(parents=True)
    (project / "app.py").write_text(APP.format(version="one"))
    (project / "templates" / "page.html").write_text("<p>first {{ name }}</p>")
    (project / ".venv" / "lib").mkdir(parents=True)
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOBSTOPPER_TEMPLATES")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run", "--reload", "--server", request.param, "--port", str(port)],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for(lambda: process.poll() is None and state(port) is not None, 30)
        time.sleep(0.5)  # let the watcher settle before the first change
        yield port, project
    except BaseException:
        print(log_path.read_text())
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def test_edited_template_is_served_by_the_next_request(served: tuple[int, Path]) -> None:
    port, project = served
    before = state(port)
    assert get(f"http://127.0.0.1:{port}/page") == (200, "<p>first reload</p>")
    (project / "templates" / "page.html").write_text("<p>second {{ name }}</p>")
    assert get(f"http://127.0.0.1:{port}/page") == (200, "<p>second reload</p>")  # the very next request
    time.sleep(1.0)
    assert state(port) == before  # and no restart


def test_edited_python_is_served_within_two_seconds(served: tuple[int, Path]) -> None:
    port, project = served
    (project / "app.py").write_text(APP.format(version="two"))
    wait_for(lambda: (state(port) or {}).get("version") == "two", PYTHON_EDIT_SECONDS)


def test_a_broken_edit_keeps_the_watcher_running(served: tuple[int, Path]) -> None:
    port, project = served
    (project / "app.py").write_text("this is not python (\n")
    time.sleep(1.5)
    (project / "app.py").write_text(APP.format(version="three"))
    wait_for(lambda: (state(port) or {}).get("version") == "three", 20)


def test_databases_logs_and_virtualenvs_do_not_restart(served: tuple[int, Path]) -> None:
    port, project = served
    before = state(port)
    (project / "data.db").write_bytes(b"SQLite format 3\x00")
    (project / "tasks.duckdb.wal").write_bytes(b"x")
    (project / "server.log").write_text("a log line\n")
    (project / ".venv" / "lib" / "module.py").write_text("x = 1\n")
    (project / "notes.json").write_text("{}")
    time.sleep(2.0)
    assert state(port) == before
