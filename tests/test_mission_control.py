"""Mission Control (gobstopper.extensions.mission_control): access, CSRF, figures, tasks, cache, workers via Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.extensions.mission_control import MissionControl
from gobstopper.extensions.mission_control.metrics import BUCKETS, Recorder, histogram_percentile, merge
from gobstopper.tasks.memory import MemoryTaskStorage
from gobstopper.tasks.queue import TaskQueue
from gobstopper.testing import TestClient
from tests._services import service_url

TOKEN = "correct horse battery staple"


def add_routes(app: Gobstopper) -> Gobstopper:
    @app.get("/hello")
    async def hello(request):
        return {"hello": "world"}

    @app.get("/users/<int:user_id>")
    async def user(request, user_id):
        return {"id": user_id}

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    return app


def csrf_headers(app: Gobstopper) -> dict[str, str]:
    return {"x-gobstopper-csrf": app.extensions["mission_control"].csrf_token}


# -- on or off -----------------------------------------------------------------------------------------------------


def test_off_without_debug_and_token_is_a_404_and_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("plain"))
    assert "mission_control" not in app.extensions
    assert app._dispatcher.observe is None  # nothing recorded, nothing run per request
    with TestClient(app) as client:
        for path in ("/_gobstopper", "/_gobstopper/", "/_gobstopper/api/stats", "/_gobstopper/login"):
            assert client.get(path).status_code == 404
            assert client.get(path, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 404

    # Registered explicitly without a token on a production app: still off.
    app = add_routes(Gobstopper("explicit"))
    mc = app.register_extension(MissionControl())
    assert not mc.enabled
    assert app._dispatcher.observe is None
    with TestClient(app) as client:
        assert client.get("/_gobstopper").status_code == 404


def test_debug_apps_get_it_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("dev", debug=True))
    with TestClient(app) as client:
        page = client.get("/_gobstopper")
        assert page.status_code == 200
        assert "/users/&lt;int:user_id&gt;" in page.text  # the route table, server-rendered
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/_gobstopper/", follow_redirects=False).status_code == 308
        assert (
            client.get("/_gobstopper/static/mission-control.js").headers["content-type"].startswith("text/javascript")
        )
        assert "http" not in client.get("/_gobstopper/static/mission-control.css").text  # nothing from elsewhere


def test_opting_out_of_the_debug_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_MISSION_CONTROL", "0")
    app = Gobstopper("dev", debug=True)
    assert "mission_control" not in app.extensions


def test_token_from_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", TOKEN)
    app = add_routes(Gobstopper("prod"))
    with TestClient(app) as client:
        assert client.get("/_gobstopper").status_code == 404
        assert client.get("/_gobstopper", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


# -- access with a token ---------------------------------------------------------------------------------------


def test_token_access(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("prod"))
    app.register_extension(MissionControl(token=TOKEN))
    with TestClient(app) as client:
        assert client.get("/_gobstopper/api/stats").status_code == 404
        assert client.get(f"/_gobstopper/api/stats?token={TOKEN}").status_code == 404  # never in the query string
        assert client.get("/_gobstopper", headers={"authorization": "Bearer wrong"}).status_code == 404
        assert client.get("/_gobstopper", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        # The sign-in form: a wrong token is a 401, the right one a cookie scoped to the prefix.
        assert client.get("/_gobstopper/login").status_code == 200
        assert client.post("/_gobstopper/login", data={"token": "nope"}).status_code == 401
        answer = client.post("/_gobstopper/login", data={"token": TOKEN}, follow_redirects=False)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_gobstopper" in cookie
        assert TOKEN not in cookie
        assert client.get("/_gobstopper").status_code == 200  # the cookie now
        # A login posted from another site is refused.
        client.cookies.clear()
        assert client.post("/_gobstopper/login", data={"token": TOKEN},
                           headers={"origin": "https://evil.example"}).status_code == 403  # fmt: skip


def test_actions_need_the_csrf_token_and_the_same_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("dev", debug=True))
    with TestClient(app) as client:
        assert client.post("/_gobstopper/logout").status_code == 403
        assert client.post("/_gobstopper/logout", headers={"x-gobstopper-csrf": "guess"}).status_code == 403
        good = csrf_headers(app)
        assert client.post("/_gobstopper/logout", headers={**good, "origin": "https://evil.example"}).status_code == 403
        assert client.post("/_gobstopper/logout", headers={**good, "sec-fetch-site": "cross-site"}).status_code == 403
        assert client.post("/_gobstopper/logout", headers={**good, "origin": "http://testserver"}).status_code == 200
        page = client.get("/_gobstopper").text
        assert app.extensions["mission_control"].csrf_token in page  # the page carries it for its own requests


def test_csrf_token_is_the_same_in_every_worker_with_a_secret() -> None:
    # Workers are separate processes: with a token (or GOBSTOPPER_SECRET_KEY) they derive the same CSRF token.
    assert MissionControl(token=TOKEN).csrf_token == MissionControl(token=TOKEN).csrf_token
    assert MissionControl(token=TOKEN).csrf_token != MissionControl(token="other").csrf_token


# -- figures ---------------------------------------------------------------------------------------------------


def test_per_route_counts_errors_and_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("dev", debug=True))
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/hello")
        client.get("/users/7")
        client.get("/boom")
        client.get("/no-such-page")
        client.get("/_gobstopper/api/stats")  # Mission Control's own requests are not counted
        stats = client.get("/_gobstopper/api/stats").json()
    routes = {row["name"]: row for row in stats["routes"]}
    assert routes["hello"]["count"] == 3 and routes["hello"]["errors"] == 0
    assert routes["user"]["pattern"] == "/users/<int:user_id>"
    assert routes["boom"]["errors"] == 1
    assert routes["(no route: 404/405)"]["count"] == 1
    assert not any(name.startswith("mission_control.") for name in routes)
    assert 0 < routes["hello"]["p50"] <= routes["hello"]["p99"]
    assert stats["totals"]["requests"] == 6 and stats["totals"]["errors"] == 1
    worker = stats["workers"][0]
    assert worker["memory_rss"] > 0 and worker["uptime"] >= 0
    assert "this worker only" in stats["scope"]


def test_open_websockets_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = Gobstopper("dev", debug=True)

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()
        await websocket.receive()

    with TestClient(app) as client:
        with client.websocket_connect("/ws"):
            assert client.get("/_gobstopper/api/stats").json()["totals"]["websockets"] == 1
        assert client.get("/_gobstopper/api/stats").json()["totals"]["websockets"] == 0
        # Open SSE streams are counted on a real server (the TestClient ends a stream after its first chunk):
        # tests/test_mission_control_browser.py sees the page's own stream.
        with client.stream("GET", "/_gobstopper/api/stream") as stream:
            assert next(stream.iter_lines()).startswith("event: stats")


def test_health_readiness_and_route_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("dev", debug=True))
    mc = app.extensions["mission_control"]
    ready = {"value": True}

    @mc.readiness_check
    async def database():
        return ready["value"]

    with TestClient(app) as client:
        assert client.get("/_gobstopper/health").json()["status"] == "ok"
        assert client.get("/_gobstopper/ready").json() == {"status": "ready", "checks": {"serving": True,
                                                                                         "database": True}}  # fmt: skip
        ready["value"] = False
        answer = client.get("/_gobstopper/ready")
        assert (answer.status_code, answer.json()["checks"]["database"]) == (503, False)
        paths = {row["path"] for row in client.get("/_gobstopper/api/routes").json()["routes"]}
        assert {"/hello", "/users/<int:user_id>", "/_gobstopper"} <= paths


def test_left_out_of_the_openapi_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    from gobstopper.extensions.openapi import attach_openapi

    app = add_routes(Gobstopper("dev", debug=True))
    attach_openapi(app)
    with TestClient(app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "/hello" in paths
    assert not any(path.startswith("/_gobstopper") for path in paths)


def test_task_queue_state_retry_and_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = Gobstopper("dev", debug=True)
    storage = MemoryTaskStorage()
    app.task_queue = TaskQueue(enabled=True, storage_factory=lambda: storage, poll_interval=0.05)
    calls = {"n": 0}

    @app.task("flaky", category="work")
    async def flaky():
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first run fails")
        return "ok"

    @app.post("/enqueue")
    async def enqueue(request):
        return {"id": await app.add_background_task("flaky", "work")}

    @app.post("/later")
    async def later(request):
        return {"id": await app.task_queue.add_task("flaky", "work", delay=3600)}

    @app.on_startup
    async def workers():
        await app.start_task_workers("work", 1)

    def task(client: TestClient, task_id: str) -> dict[str, Any]:
        recent = client.get("/_gobstopper/api/stats").json()["tasks"]["recent"]
        return next(t for t in recent if t["id"] == task_id)

    def wait_for(client: TestClient, task_id: str, status: str) -> None:
        deadline = time.monotonic() + 10
        while task(client, task_id)["status"] != status:
            assert time.monotonic() < deadline, task(client, task_id)
            time.sleep(0.05)

    with TestClient(app) as client:
        task_id = client.post("/enqueue").json()["id"]
        wait_for(client, task_id, "failed")
        assert client.post(f"/_gobstopper/api/tasks/{task_id}/retry").status_code == 403  # no CSRF token
        assert client.post(f"/_gobstopper/api/tasks/{task_id}/retry", headers=csrf_headers(app)).json() == {
            "task": task_id,
            "retry": True,
        }
        wait_for(client, task_id, "success")
        assert client.post(f"/_gobstopper/api/tasks/{task_id}/retry", headers=csrf_headers(app)).status_code == 409
        waiting = client.post("/later").json()["id"]
        assert client.post(f"/_gobstopper/api/tasks/{waiting}/cancel", headers=csrf_headers(app)).status_code == 200
        assert task(client, waiting)["status"] == "cancelled"
        stats = client.get("/_gobstopper/api/stats").json()["tasks"]["stats"]
        assert stats["by_status"]["success"] == 1


def test_cache_figures_come_from_the_cache_extension_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)

    class Cache:
        name = "cache"

        def init_app(self, app: Gobstopper) -> None:
            pass

        async def stats(self) -> dict[str, Any]:
            return {"hits": 9, "misses": 1, "hit_rate": 0.9}

    app = Gobstopper("dev", debug=True)
    with TestClient(app) as client:
        assert client.get("/_gobstopper/api/stats").json()["cache"] is None
    app.register_extension(Cache())
    with TestClient(app) as client:
        assert client.get("/_gobstopper/api/stats").json()["cache"] == {"hits": 9, "misses": 1, "hit_rate": 0.9}


# -- several workers ------------------------------------------------------------------------------------------------


def test_merge_adds_counts_and_histograms() -> None:
    class Route:
        class record:  # the shape of a dispatcher route
            name, pattern = "hello", "/hello"

        def __init__(self, hits: int) -> None:
            self.hits = hits

    class Dispatcher:
        def __init__(self, hits: int) -> None:
            self.routes = [Route(hits)]
            self.unrouted = 0
            self.observe: Any = None

    snapshots = []
    for hits in (3, 5):
        recorder = Recorder()
        dispatcher = Dispatcher(hits)
        recorder.attach(dispatcher)
        dispatcher.observe((dispatcher.routes[0], 0.002))  # what a timed request appends
        snapshots.append(recorder.snapshot())
    [row] = merge(snapshots)
    assert (row["name"], row["count"], row["errors"]) == ("hello", 8, 0)
    assert row["p50"] in BUCKETS
    assert histogram_percentile({0: 1, 10: 1}, 99) == BUCKETS[10]
    assert histogram_percentile({}, 50) is None


def test_workers_are_combined_through_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    name = f"mc-redis-{time.time_ns()}"
    apps = []
    for index in range(2):  # two "workers" of the same app (same name), each with its own figures
        app = add_routes(Gobstopper(name))
        mc = app.register_extension(MissionControl(token=TOKEN, redis_url=url, publish_interval=0.2))
        mc.worker_id = f"worker-{index}"
        apps.append(app)
    auth = {"authorization": f"Bearer {TOKEN}"}
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        for _ in range(2):
            first.get("/hello")
        for _ in range(3):
            second.get("/hello")
        deadline = time.monotonic() + 10
        while True:
            stats = first.get("/_gobstopper/api/stats", headers=auth).json()
            hello = next((r for r in stats["routes"] if r["name"] == "hello"), {"count": 0})
            if hello["count"] == 5:
                break
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)
        assert "2 worker(s), combined through Redis" == stats["scope"]
        assert {w["id"] for w in stats["workers"]} == {"worker-0", "worker-1"}
    # A stopped worker removes its entry.
    import redis

    client = redis.Redis.from_url(url)
    try:
        assert client.hkeys(f"gobstopper:mission-control:{name}") == []
    finally:
        client.close()
    json.dumps(stats)  # the whole payload is JSON


def test_every_request_is_counted_and_some_are_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOBSTOPPER_MISSION_CONTROL_TOKEN", raising=False)
    app = add_routes(Gobstopper("dev", debug=True))
    recorder = app.extensions["mission_control"].recorder
    with TestClient(app) as client:
        started = time.monotonic()
        for _ in range(600):
            client.get("/hello")
        elapsed = time.monotonic() - started
        time.sleep(0.1)
        client.get("/boom")
        recorder.drain()
    hello = next(s for s in recorder.routes.values() if s.name == "hello")
    assert hello.count == 600
    # Timed: the next request after each arming (every 20 ms), so a sample of the requests, not all of them.
    assert 1 <= len(hello.samples) <= min(600, elapsed / 0.02 + 5)
    assert all(sample > 0 for sample in hello.samples)
    boom = next(s for s in recorder.routes.values() if s.name == "boom")
    assert (boom.count, boom.errors) == (1, 1)  # counted from the app's log record of the unhandled exception
