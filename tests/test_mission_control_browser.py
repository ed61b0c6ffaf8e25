"""Mission Control and Error Prism in a real headless Chromium, served by a real Granian (RSGI) started with
``gobstopper run``: what a person looks for (the routes, the counters moving, the failing line highlighted)."""

from __future__ import annotations

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

from compat_tests.browser import artifact_path

pytestmark = pytest.mark.servers

APP = """
from gobstopper import Gobstopper

app = Gobstopper(__name__, debug={debug})


@app.get("/hello")
async def hello(request):
    return {{"hello": "world"}}


@app.get("/users/<int:user_id>")
async def user(request, user_id):
    return {{"id": user_id}}


@app.get("/average")
async def average(request):
    numbers = [1, 2, 3]
    return {{"average": sum(numbers) / (len(numbers) - 3)}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    """Poll ``condition()`` (the page's CSP forbids the string evaluation wait_for_function needs)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not update in time"
        time.sleep(0.1)


class Served:
    def __init__(self, directory: Path, module: str) -> None:
        self.port = free_port()
        self.log = directory / f"{module}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("GOBSTOPPER_MISSION_CONTROL_TOKEN", None)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gobstopper", "run", f"{module}:app", "--port", str(self.port)],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                fetch(self.url("/hello"))
                return
            except OSError:
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(module: str, debug: bool) -> Served:
        (tmp_path / f"{module}.py").write_text(APP.format(debug=debug))
        server = Served(tmp_path, module)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_mission_control_shows_routes_and_live_counters(served: Any, page: Any) -> None:
    server = served("devapp", True)
    response = page.goto(server.url("/_gobstopper"))
    assert response is not None and response.status == 200
    table = page.locator("#route-table")
    for path in ("/hello", "/users/<int:user_id>", "/average"):
        assert table.get_by_text(path, exact=True).count() == 1
    wait_until(lambda: page.locator("#live").inner_text() == "live")
    assert int(page.locator("#streams").inner_text()) >= 1  # the page's own event stream

    for _ in range(7):
        assert fetch(server.url("/hello")) == 200
    assert fetch(server.url("/users/3")) == 200
    hello = page.locator('#route-metrics tr[data-route="hello"] .count')
    wait_until(lambda: hello.count() == 1 and int(hello.inner_text()) >= 7)
    first = int(page.locator("#requests").inner_text())
    for _ in range(3):
        fetch(server.url("/hello"))
    wait_until(lambda: int(page.locator("#requests").inner_text()) >= first + 3)  # the counters move, live
    assert page.locator('#route-metrics tr[data-route="user"] .count').inner_text() == "1"
    page.screenshot(path=str(artifact_path("mission-control.png")), full_page=True)


def test_error_prism_highlights_the_failing_line(served: Any, page: Any) -> None:
    server = served("devapp", True)
    response = page.goto(server.url("/average"))
    assert response is not None and response.status == 500
    assert "ZeroDivisionError" in page.locator("header h1").inner_text()
    failing = page.locator("details[open] pre.source span.failing")
    assert "sum(numbers) / (len(numbers) - 3)" in failing.first.inner_text()
    # The failing line is highlighted: a colour of its own, not the context lines'.
    colour = failing.first.evaluate("e => getComputedStyle(e).backgroundColor")
    context = page.locator("details[open] pre.source span.ctx").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert colour != context
    assert page.locator("details[open] table.locals").get_by_text("numbers", exact=True).count() == 1
    page.screenshot(path=str(artifact_path("error-prism.png")), full_page=True)


def test_production_app_has_no_mission_control_and_no_traceback(served: Any) -> None:
    server = served("prodapp", False)
    assert fetch(server.url("/_gobstopper")) == 404
    assert fetch(server.url("/_gobstopper/api/stats")) == 404
    request = urllib.request.Request(server.url("/average"), headers={"accept": "text/html"})
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert exc.code == 500
        assert "ZeroDivisionError" not in body and "numbers" not in body
    else:
        pytest.fail("expected a 500")
