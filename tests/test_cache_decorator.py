"""``@cached``: which responses are stored, how they come back, and what a client's Cache-Control does."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gobstopper import Gobstopper
from gobstopper.cache import Cache, cached
from gobstopper.http.response import Response, StreamResponse
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions.memory_storage import MemorySessionStorage
from gobstopper.testing import TestClient


def make_app() -> tuple[Gobstopper, list[str]]:
    app = Gobstopper(__name__)
    app.init_cache_from_env(environ={})
    runs: list[str] = []

    @app.get("/report")
    @cached(ttl=30)
    async def report(request: Any) -> Any:
        runs.append("report")
        return Response(f"report {len(runs)}", headers={"X-Built": str(len(runs))}, content_type="text/plain")

    @app.get("/items/<int:item_id>")
    @cached(ttl=30, tags=["items"])
    async def item(request: Any, item_id: int) -> Any:
        runs.append(f"item {item_id}")
        return {"id": item_id, "run": len(runs), "q": request.args.get("q", [""])[0]}

    @app.route("/form", methods=["GET", "POST"])
    @cached(ttl=30)
    async def form(request: Any) -> Any:
        runs.append("form")
        return {"run": len(runs)}

    @app.get("/cookie")
    @cached(ttl=30)
    async def cookie(request: Any) -> Any:
        runs.append("cookie")
        response = Response("hi")
        response.set_cookie("seen", "1")
        return response

    @app.get("/stream")
    @cached(ttl=30)
    async def stream(request: Any) -> Any:
        runs.append("stream")

        async def chunks() -> Any:
            yield b"a"
            yield b"b"

        return StreamResponse(chunks())

    @app.get("/status/<int:code>")
    @cached(ttl=30)
    async def status(request: Any, code: int) -> Any:
        runs.append(f"status {code}")
        return {"code": code}, code

    @app.get("/nostore")
    @cached(ttl=30)
    async def nostore(request: Any) -> Any:
        runs.append("nostore")
        return Response("x", headers={"Cache-Control": "no-store"})

    @app.get("/negotiated")
    @cached(ttl=30, vary=["Accept"])
    async def negotiated(request: Any) -> Any:
        runs.append("negotiated")
        wants_json = "json" in request.headers.get("accept", "")
        body = Response('{"a":1}', content_type="application/json") if wants_json else Response("<p>a</p>")
        body.headers["Vary"] = "Accept"
        return body

    @app.get("/varies-on-language")
    @cached(ttl=30)
    async def varies(request: Any) -> Any:
        runs.append("language")
        return Response("hello", headers={"Vary": "Accept-Language"})

    @app.get("/sync")
    @cached(ttl=30)
    def sync_handler(request: Any) -> Any:
        runs.append("sync")
        return "sync"

    return app, runs


def test_responses_are_stored_and_rebuilt_with_their_headers() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        first = client.get("/report")
        second = client.get("/report")
    assert runs == ["report"]
    assert first.text == second.text == "report 1"
    assert second.headers["x-built"] == "1" and second.headers["content-type"].startswith("text/plain")


def test_the_query_is_part_of_the_key_in_any_order() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        a = client.get("/items/1?q=x&z=1").json()
        b = client.get("/items/1?z=1&q=x").json()
        c = client.get("/items/1?q=y").json()
        d = client.get("/items/2").json()
    assert a == b and c["q"] == "y" and d["id"] == 2
    assert runs == ["item 1", "item 1", "item 2"]


def test_head_shares_the_get_entry_and_post_is_never_cached() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        client.get("/form")
        assert client.head("/form").status_code == 200
        client.post("/form")
        client.post("/form")
    assert runs == ["form", "form", "form"]


@pytest.mark.parametrize(
    "headers",
    [{"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"}, {"Pragma": "no-cache"}],
)
def test_a_clients_no_cache_runs_the_handler_and_refreshes_the_entry(headers: dict[str, str]) -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        assert client.get("/report").text == "report 1"
        assert client.get("/report", headers=headers).text == "report 2"
        assert client.get("/report").text == "report 2"  # the refreshed entry
    assert runs == ["report", "report"]


def test_a_clients_no_store_stores_nothing() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        client.get("/report", headers={"Cache-Control": "no-store"})
        client.get("/report")
    assert runs == ["report", "report"]


@pytest.mark.parametrize(
    "path", ["/cookie", "/stream", "/status/500", "/status/403", "/nostore", "/varies-on-language"]
)
def test_unsafe_or_uncacheable_responses_are_not_stored(path: str) -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        first = client.get(path)
        client.get(path)
    assert len(runs) == 2
    if path == "/cookie":
        assert "seen=1" in first.headers["set-cookie"]
    if path == "/stream":
        assert first.content == b"ab"


def test_heuristically_cacheable_errors_are_stored() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        assert [client.get("/status/404").status_code for _ in range(2)] == [404, 404]
    assert runs == ["status 404"]


def test_vary_headers_select_variants() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        html = client.get("/negotiated", headers={"Accept": "text/html"})
        json_ = client.get("/negotiated", headers={"Accept": "application/json"})
        again = client.get("/negotiated", headers={"Accept": "application/json"})
    assert html.text == "<p>a</p>" and json_.json() == again.json() == {"a": 1}
    assert runs == ["negotiated", "negotiated"]


def test_requests_with_authorization_bypass_the_default_key() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        client.get("/report")
        assert client.get("/report", headers={"Authorization": "Bearer a"}).text == "report 2"
        assert client.get("/report").text == "report 1"
    assert runs == ["report", "report"]


def test_sync_handlers_are_cached_too() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        assert client.get("/sync").text == client.get("/sync").text == "sync"
    assert runs == ["sync"]


def test_tags_invalidate_cached_responses() -> None:
    app, runs = make_app()
    with TestClient(app) as client:
        client.get("/items/1")
        client.get("/items/1")

        @app.post("/items/changed")
        async def changed(request: Any) -> Any:
            return {"removed": await request.app.cache.invalidate_tags("items")}

        assert client.post("/items/changed").json() == {"removed": 1}
        client.get("/items/1")
    assert runs == ["item 1", "item 1"]


def session_app() -> tuple[Gobstopper, list[str]]:
    app = Gobstopper(__name__)
    app.init_cache_from_env(environ={})
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32, session_storage=MemorySessionStorage()), priority=100)
    runs: list[str] = []

    @app.get("/login/<name>")
    async def login(request: Any, name: str) -> Any:
        request.session["user"] = name
        return {"ok": True}

    @app.get("/me")
    @cached(ttl=30)
    async def me(request: Any) -> Any:
        runs.append("me")
        return {"user": request.session.get("user")}

    @app.get("/mine")
    @cached(ttl=30, key=lambda request: f"mine:{request.session.get('user')}")
    async def mine(request: Any) -> Any:
        runs.append("mine")
        return {"user": request.session.get("user")}

    return app, runs


def test_a_handler_reading_the_session_is_not_shared_between_users() -> None:
    app, runs = session_app()
    with TestClient(app, base_url="https://testserver") as alice, TestClient(app, base_url="https://testserver") as bob:
        alice.get("/login/alice")
        bob.get("/login/bob")
        assert alice.get("/me").json() == {"user": "alice"}
        assert bob.get("/me").json() == {"user": "bob"}
    assert runs == ["me", "me"]


def test_a_key_per_user_caches_privately() -> None:
    app, runs = session_app()
    with TestClient(app, base_url="https://testserver") as alice, TestClient(app, base_url="https://testserver") as bob:
        alice.get("/login/alice")
        bob.get("/login/bob")
        assert alice.get("/mine").json() == {"user": "alice"}
        hit = alice.get("/mine")
        assert bob.get("/mine").json() == {"user": "bob"}
    assert hit.json() == {"user": "alice"} and runs == ["mine", "mine"]
    assert "private" in hit.headers["cache-control"] and "cookie" in hit.headers["vary"].lower()


def test_without_a_cache_the_decorator_says_what_to_do() -> None:
    app = Gobstopper(__name__)

    @app.get("/x")
    @cached(ttl=5)
    async def x(request: Any) -> Any:
        return "x"

    with pytest.raises(RuntimeError, match="init_cache_from_env"):
        asyncio.run(x(type("R", (), {"app": app, "method": "GET"})()))

    explicit = Cache()

    @app.get("/y")
    @cached(ttl=5, cache=explicit)
    async def y(request: Any) -> Any:
        return "y"

    with TestClient(app) as client:
        assert client.get("/y").text == "y"
    assert len(explicit.l1) == 1


def test_concurrent_requests_run_the_handler_once() -> None:
    app = Gobstopper(__name__)
    app.init_cache_from_env(environ={})
    runs: list[int] = []

    @app.get("/slow")
    @cached(ttl=30)
    async def slow(request: Any) -> Any:
        runs.append(1)
        await asyncio.sleep(0.1)
        return {"ok": True}

    async def main() -> list[int]:
        await app.startup()
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = await asyncio.gather(*(client.get("/slow") for _ in range(50)))
        await app.shutdown()
        return [a.status_code for a in answers]

    assert asyncio.run(main()) == [200] * 50
    assert runs == [1]
