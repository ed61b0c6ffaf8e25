"""Two Granian workers share sessions and rate limits through a real Redis (``granian --workers 2``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from compat_tests.harness import APPS_DIR, free_port, raw_request

pytestmark = pytest.mark.servers


def redis_url() -> str:
    value = os.environ.get("GOBSTOPPER_TEST_REDIS_URL")
    if value:
        return value
    message = "GOBSTOPPER_TEST_REDIS_URL is not set: run the suite with scripts/test (it starts Redis)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module", params=["rsgi", "asgi"])
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    env = dict(os.environ, GOBSTOPPER_TEST_REDIS_URL=redis_url(), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(APPS_DIR), env.get("PYTHONPATH", "")) if p)
    p = free_port()
    log = tmp_path_factory.mktemp("workers") / "granian.log"
    cmd = [sys.executable, "-m", "granian", "--interface", request.param, "--workers", "2", "--host", "127.0.0.1",
           "--port", str(p), "--working-dir", str(APPS_DIR), "auth_redis:app"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if raw_request("127.0.0.1", p, b"GET /__compat_ready HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2).status:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        yield p
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    extra = f"Cookie: session_id={cookie}\r\n" if cookie else ""
    data = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n".encode()
    r = raw_request("127.0.0.1", port, data)  # a fresh connection each time: any worker may answer
    return r.status, dict(r.headers), json.loads(r.body)


def spread(port: int, path: str, cookie: str | None = None, n: int = 8) -> list[tuple[int, dict[str, str], dict]]:  # type: ignore[type-arg]
    """``n`` concurrent requests that each block their worker for a moment, so both workers must answer."""
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: get(port, path, cookie), range(n)))


def test_session_created_on_one_worker_is_seen_by_both(port: int) -> None:
    status, headers, _ = get(port, f"/login/{uuid.uuid4().hex[:8]}")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    user = get(port, "/whoami", cookie)[2]["user"]
    pids: dict[int, set[str]] = {}
    for _ in range(10):
        for _, _, body in spread(port, "/whoami?block=0.3", cookie):
            pids.setdefault(body["pid"], set()).add(body["user"])
        if len(pids) == 2:
            break
    assert len(pids) == 2, f"only one worker answered: {pids}"
    assert all(users == {user} for users in pids.values()), pids


def test_rate_limit_is_shared_by_both_workers(port: int) -> None:
    bucket = uuid.uuid4().hex
    results = spread(port, f"/limited/{bucket}?block=0.2", n=16) + [get(port, f"/limited/{bucket}") for _ in range(8)]
    pids = {body["pid"] for _, _, body in results}
    allowed = [status for status, _, _ in results if status == 200]
    assert len(pids) == 2, "both workers must have answered"
    assert len(allowed) == 10  # one bucket of 10 across both workers, not 10 per worker
