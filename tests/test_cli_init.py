"""``gobstopper init`` end to end: every use case × structure is generated, served by ``gobstopper run`` under
Granian (RSGI) and passes its own generated tests (one pytest process per project, four projects at a time)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from gobstopper.cli import main as cli_main
from gobstopper.cli.scaffold import STRUCTURES, USECASES

pytestmark = pytest.mark.servers


#: A GET path each use case serves (through its feature module, whatever the structure).
A_PAGE = {
    "data-science": "/api/datasets",
    "real-time-dashboard": "/api/metrics",
    "content-management": "/api/articles",
    "microservice": "/api/items",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_and_test(project: Path, usecase: str, structure: str) -> str:
    """Start ``gobstopper run`` in ``project``, check it answers, stop it, run the project's tests. Returns ""
    when all is well, else what went wrong."""
    port = free_port()
    log_path = project.parent / f"{project.name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOBSTOPPER_MISSION")}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        index = None
        while index is None:
            if server.poll() is not None:
                return f"{project.name}: server exited\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    index = json.loads(response.read())
            except OSError:
                if time.monotonic() > deadline:
                    return f"{project.name}: no answer\n{log_path.read_text()}"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            health = json.loads(response.read())
        if (index["usecase"], index["structure"], health) != (usecase, structure, {"status": "ok"}):
            return f"{project.name}: unexpected answers {index} {health}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{A_PAGE[usecase]}", timeout=5) as response:
            if response.status != 200:
                return f"{project.name}: {A_PAGE[usecase]} answered {response.status}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0 or " passed" not in run.stdout:
        return f"{project.name}: its tests failed\n{run.stdout}\n{run.stderr}"
    return ""


@pytest.mark.parametrize("usecase", list(USECASES))
def test_every_structure_runs_and_passes_its_tests(usecase: str, tmp_path: Path) -> None:
    projects = []
    for structure in STRUCTURES:
        name = f"{usecase.replace('-', '_')}_{structure}"
        result = CliRunner().invoke(
            cli_main.cli,
            ["init", name, "--usecase", usecase, "--structure", structure, "--directory", str(tmp_path / name)],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        projects.append((tmp_path / name, structure))
    with ThreadPoolExecutor(max_workers=len(projects)) as pool:
        problems = list(pool.map(lambda p: serve_and_test(p[0], usecase, p[1]), projects))
    assert [p for p in problems if p] == []


def test_generated_layouts() -> None:
    from gobstopper.cli.scaffold import project_files

    modular = project_files("My App", "content-management", "modular", "0.6.0")
    expected = {"app.py", "config.py", "modules/articles/routes.py", "models/__init__.py", "tasks/__init__.py",
                "templates/admin.html", "static/style.css", ".env.example", "dev.toml", "requirements.txt"}  # fmt: skip
    assert expected <= set(modular)
    blueprints = project_files("my-app", "data-science", "blueprints", "0.6.0")
    assert {"blueprints/models.py", "blueprints/datasets.py", "tests/test_models.py"} <= set(blueprints)
    services = project_files("gw", "microservice", "microservices", "0.6.0")
    assert {"services/items/app.py", "services/discovery/app.py", "services/metrics/app.py"} <= set(services)
    single = project_files("tiny", "real-time-dashboard", "single", "0.6.0")
    assert not any(path.startswith(("blueprints/", "modules/", "services/")) for path in single)
    for files in (modular, blueprints, services, single):
        for path, text in files.items():
            if path.endswith(".py"):
                compile(text, path, "exec")  # valid Python, every file
