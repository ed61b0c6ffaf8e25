"""The ``Server`` header: at most one on every server, and none naming software where the server allows it
(issue 17; docs/hardening.md row 39; ``docs/deployment.md``, "The Server header").

Started here rather than from the pool, because plain ``uvicorn app:app`` (its Server header on) is the case: the
pool starts uvicorn with ``--no-server-header``, as ``gobstopper run`` does.

- plain ``uvicorn app:app``: exactly one, uvicorn's own (``SecurityMiddleware`` sends none there, since uvicorn
  puts its header before the app's whatever the app sends);
- ``uvicorn --no-server-header`` (``gobstopper run --server uvicorn``): none;
- Granian, RSGI and ASGI: one, empty (the app's, which replaces ``server: granian``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from compat_tests.harness import APPS_DIR, free_port, raw_request

APP = "server_header:app"

COMMANDS = {
    "uvicorn-plain": ["-m", "uvicorn", "--lifespan", "on", "--no-access-log"],
    "uvicorn-no-server-header": ["-m", "uvicorn", "--lifespan", "on", "--no-access-log", "--no-server-header"],
    "granian-rsgi": ["-m", "granian", "--interface", "rsgi", "--workers", "1"],
    "granian-asgi": ["-m", "granian", "--interface", "asgi", "--workers", "1"],
}
EXPECTED = {
    "uvicorn-plain": ["uvicorn"],
    "uvicorn-no-server-header": [],
    "granian-rsgi": [""],
    "granian-asgi": [""],
}


@pytest.fixture(params=list(COMMANDS))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(APPS_DIR), os.environ.get("PYTHONPATH")) if p))
    command = [sys.executable, *COMMANDS[request.param], "--host", "127.0.0.1", "--port", str(port), APP]
    proc = subprocess.Popen(command, cwd=APPS_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if raw_request("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=2).status:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, f"{request.param} did not start"
            time.sleep(0.05)
        yield request.param, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.mark.servers
def test_at_most_one_server_header(served: tuple[str, int]) -> None:
    kind, port = served
    r = raw_request("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert r.status == 200, r
    assert [v for k, v in r.headers if k == "server"] == EXPECTED[kind], r.headers
