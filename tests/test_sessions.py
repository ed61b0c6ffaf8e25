"""Sessions: one suite, every backend (memory, file, Redis, PostgreSQL), the last two on real servers.

docs/hardening.md rows 40-43 (cookies, forged ids, fixation, Vary) and §2 (expiry, logout, key rotation, writes only
when modified). Redis and PostgreSQL come from ``scripts/test`` (``scripts/services``); under CI a missing
server fails instead of skipping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from _services import service_url

from gobstopper import Gobstopper
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions import FileSessionStorage, MemorySessionStorage
from gobstopper.sessions.storage import AsyncBaseSessionStorage, BaseSessionStorage
from gobstopper.testing import TestClient

KEY = "k" * 32
BACKENDS = ["memory", "file", "redis", "postgres"]


class Spy(AsyncBaseSessionStorage):
    """Counts the calls reaching a real backend (and forwards them to it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    async def _forward(self, op: str, *args: Any) -> Any:
        self.calls.append((op, args[0] if args else ""))
        method = getattr(self.inner, op)
        if isinstance(self.inner, BaseSessionStorage):
            return await anyio.to_thread.run_sync(method, *args)
        return await method(*args)

    async def load(self, session_id: str) -> dict[str, Any] | None:
        return await self._forward("load", session_id)  # type: ignore[no-any-return]

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        await self._forward("save", session_id, data)

    async def delete(self, session_id: str) -> None:
        await self._forward("delete", session_id)

    def ops(self, op: str | None = None) -> list[tuple[str, str]]:
        return [c for c in self.calls if op is None or c[0] == op]


def make_storage(kind: str, tmp_path: Path) -> tuple[Any, Callable[[], Any] | None]:
    """A real backend and its async closer (run at app shutdown, in the app's own loop)."""
    if kind == "memory":
        return MemorySessionStorage(), None
    if kind == "file":
        return FileSessionStorage(tmp_path / "sessions"), None
    if kind == "redis":
        from redis.asyncio import Redis

        from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage

        client = Redis.from_url(service_url("GOBSTOPPER_TEST_REDIS_URL"))
        return AsyncRedisSessionStorage(client, key_prefix=f"test:{uuid.uuid4().hex}:"), client.aclose
    if kind == "postgres":
        from gobstopper.sessions.sql_storage import PostgresSessionStorage

        storage = PostgresSessionStorage(
            dsn=service_url("GOBSTOPPER_TEST_POSTGRES_DSN"), table=f"sessions_{uuid.uuid4().hex[:12]}",
            create_table=True, min_size=1, max_size=2,
        )  # fmt: skip
        return storage, storage.close
    raise ValueError(kind)


def build_app(storage: Any, closer: Callable[[], Any] | None = None, **options: Any) -> tuple[Gobstopper, Any]:
    app = Gobstopper(__name__)
    spy = Spy(storage)
    options.setdefault("secret_key", KEY)
    security = SecurityMiddleware(session_storage=spy, **options)
    app.add_middleware(security, priority=100)
    if closer is not None:
        app.on_shutdown(closer)

    @app.get("/set/<name>/<value>")
    async def set_value(request: Any, name: str, value: str) -> Any:
        request.session[name] = value
        return {"ok": True}

    @app.get("/get/<name>")
    async def get_value(request: Any, name: str) -> Any:
        return {"value": request.session.get(name), "sid": request.session_id}

    @app.get("/plain")
    async def plain(request: Any) -> Any:
        return {"plain": True}

    @app.get("/contains")
    async def contains(request: Any) -> Any:
        return {"has": "user" in request.session}

    @app.get("/length")
    async def length(request: Any) -> Any:
        return {"len": len(request.session)}

    @app.get("/csrf")
    async def csrf(request: Any) -> Any:
        return {"token": security.generate_csrf_token(request.session)}

    @app.post("/login")
    async def login(request: Any) -> Any:
        old = request.session_id
        new = await security.regenerate_session_id(request)
        request.session["user"] = "ada"
        return {"old": old, "new": new, "csrf": request.csrf_token}

    @app.post("/logout")
    async def logout(request: Any) -> Any:
        await security.destroy_session(request)
        return {"bye": True}

    @app.get("/clear")
    async def clear(request: Any) -> Any:
        request.session.clear()
        return {"cleared": True}

    return app, spy


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Spy, Any]]]:
    clients: list[TestClient] = []

    def factory(**options: Any) -> tuple[TestClient, Spy, Any]:
        storage, closer = make_storage(request.param, tmp_path)
        app, spy = build_app(storage, closer, **options)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        clients.append(client)
        return client, spy, app

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


def cookie_of(response: Any, name: str = "session_id") -> str | None:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(name + "="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


POST = {"origin": "https://testserver"}


def test_no_record_and_no_cookie_until_modified(backend: Any) -> None:
    client, spy, _ = backend()
    r = client.get("/get/x")
    assert r.json()["value"] is None and r.json()["sid"] is None
    assert "set-cookie" not in r.headers
    assert spy.calls == []  # no cookie: no store access at all
    r = client.get("/set/x/1")
    assert cookie_of(r) is not None
    assert len(spy.ops("save")) == 1
    assert client.get("/get/x").json()["value"] == "1"


def test_cookie_attributes_and_signed_format(backend: Any) -> None:
    client, _, _ = backend()
    r = client.get("/set/x/1")
    header = r.headers["set-cookie"]
    assert "HttpOnly" in header and "Secure" in header and "SameSite=Lax" in header and "Path=/" in header
    sid, _, mac = cookie_of(r).partition(".")  # type: ignore[union-attr]
    assert len(sid) == 43 and len(mac) == 43


def test_unmodified_session_is_not_rewritten(backend: Any) -> None:
    client, spy, _ = backend()
    client.get("/set/x/1")
    spy.calls.clear()
    for _ in range(3):
        assert client.get("/get/x").json()["value"] == "1"
    assert spy.ops("save") == [] and len(spy.ops("load")) == 3


@pytest.mark.parametrize(
    "forged",
    [
        "garbage",
        "A" * 43 + "." + "B" * 43,  # well-formed, wrong MAC
        "A" * 43 + "." + "B" * 42,  # truncated MAC
        "A" * 43,  # no MAC at all
        "../../etc/passwd." + "B" * 43,  # traversal in the id
        "\\" * 4000,  # a long run of backslashes
    ],
)
def test_forged_cookie_is_anonymous_with_zero_store_access(backend: Any, forged: str) -> None:
    client, spy, _ = backend()
    r = client.get("/get/x", headers={"cookie": "session_id=" + forged})
    assert r.status_code == 200 and r.json() == {"value": None, "sid": None}
    assert spy.calls == []


def test_cookie_of_20000_backslashes_is_refused_or_anonymous(backend: Any) -> None:
    client, spy, _ = backend()
    r = client.get("/get/x", headers={"cookie": "session_id=" + "\\" * 20000})
    assert r.status_code in (200, 431) and spy.calls == []  # the header cap may answer first (row 40)


def test_mac_from_a_retired_key_is_refused_without_store_access(backend: Any) -> None:
    client, spy, _ = backend()
    other = SecurityMiddleware(secret_key="retired" * 8, session_storage=MemorySessionStorage())
    forged = other.signed_cookie_value("A" * 43)
    r = client.get("/get/x", headers={"cookie": "session_id=" + forged})
    assert r.json()["sid"] is None and spy.calls == []


def test_valid_mac_on_unknown_id_is_anonymous_and_never_adopted(backend: Any) -> None:
    client, spy, app = backend()
    security = app.middleware[0].middleware
    chosen = "C" * 43
    r = client.get("/set/x/1", headers={"cookie": "session_id=" + security.signed_cookie_value(chosen)})
    assert spy.ops("load") == [("load", chosen)]
    new = cookie_of(r)
    assert new is not None and not new.startswith(chosen)  # a fresh id, not the client's
    assert all(c[1] != chosen for c in spy.ops("save"))


def test_nameless_cookie_is_ignored(backend: Any) -> None:
    client, _, _ = backend()
    good = cookie_of(client.get("/set/x/1"))
    client.cookies.clear()
    r = client.get("/get/x", headers={"cookie": f"=session_id=evil; session_id={good}"})
    assert r.json()["value"] == "1"


def test_login_regenerates_id_kills_old_and_rotates_csrf(backend: Any) -> None:
    client, spy, _ = backend()
    token = client.get("/csrf").json()["token"]
    old_cookie = client.cookies.get("session_id")
    old_sid = old_cookie.partition(".")[0]
    r = client.post("/login", headers={**POST, "x-csrf-token": token})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["old"] == old_sid and body["new"] != old_sid
    new_cookie = cookie_of(r)
    assert new_cookie is not None and new_cookie.partition(".")[0] == body["new"]
    assert ("delete", old_sid) in spy.calls
    # The old id is dead on the server: presenting it gives an anonymous session.
    client.cookies.clear()
    assert client.get("/get/user", headers={"cookie": "session_id=" + old_cookie}).json()["value"] is None
    assert client.get("/get/user", headers={"cookie": "session_id=" + new_cookie}).json()["value"] == "ada"
    # The CSRF token was rotated: the pre-login token no longer works.
    jar = {**POST, "cookie": "session_id=" + new_cookie}
    assert client.post("/logout", headers={**jar, "x-csrf-token": token}).status_code == 403
    assert client.post("/logout", headers={**jar, "x-csrf-token": body["csrf"]}).status_code == 200


def test_logout_deletes_record_and_expires_cookie(backend: Any) -> None:
    client, spy, _ = backend()
    token = client.get("/csrf").json()["token"]
    client.get("/set/user/ada")
    cookie = client.cookies.get("session_id")
    r = client.post("/logout", headers={**POST, "x-csrf-token": token})
    assert r.status_code == 200
    expired = [v for v in r.headers.get_list("set-cookie") if v.startswith("session_id=")]
    assert expired and "Max-Age=0" in expired[0]
    assert ("delete", cookie.partition(".")[0]) in spy.calls
    client.cookies.clear()
    assert client.get("/get/user", headers={"cookie": "session_id=" + cookie}).json()["value"] is None


def test_emptied_session_is_deleted(backend: Any) -> None:
    client, spy, _ = backend()
    client.get("/set/user/ada")
    cookie = client.cookies.get("session_id")
    r = client.get("/clear")
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert ("delete", cookie.partition(".")[0]) in spy.calls


@pytest.mark.parametrize("path", ["/contains", "/length", "/get/x"])
def test_reading_the_session_marks_the_response_private(backend: Any, path: str) -> None:
    client, _, _ = backend()
    r = client.get(path)
    assert "cookie" in r.headers["vary"].lower()
    assert r.headers["cache-control"] == "private"


def test_response_that_ignores_the_session_stays_cacheable(backend: Any) -> None:
    client, _, _ = backend()
    client.get("/set/x/1")
    r = client.get("/plain")
    assert "vary" not in r.headers or "cookie" not in r.headers["vary"].lower()


def test_idle_timeout(backend: Any) -> None:
    client, _, _ = backend(idle_timeout=1)
    client.get("/set/x/1")
    assert client.get("/get/x").json()["value"] == "1"
    time.sleep(1.3)
    assert client.get("/get/x").json()["value"] is None


def test_absolute_timeout_even_when_active(backend: Any) -> None:
    client, _, _ = backend(absolute_timeout=2, rolling_sessions=True)
    client.get("/set/x/1")
    for _ in range(3):
        time.sleep(0.5)
        assert client.get("/get/x").json()["value"] == "1"
    time.sleep(1.0)
    assert client.get("/get/x").json()["value"] is None


def test_key_rotation_accepts_fallback_and_resigns(backend: Any) -> None:
    client, _, app = backend(secret_key="new-key" * 6, secret_key_fallbacks=["old-key" * 6])
    security = app.middleware[0].middleware
    client.get("/set/x/1")
    sid = client.cookies.get("session_id").partition(".")[0]
    old_signer = SecurityMiddleware(secret_key="old-key" * 6, session_storage=MemorySessionStorage())
    client.cookies.clear()
    r = client.get("/get/x", headers={"cookie": "session_id=" + old_signer.signed_cookie_value(sid)})
    assert r.json()["value"] == "1"
    assert cookie_of(r) == security.signed_cookie_value(sid)  # re-signed with the current key


def test_rolling_sessions_resend_cookie(backend: Any) -> None:
    client, spy, _ = backend(rolling_sessions=True)
    client.get("/set/x/1")
    spy.calls.clear()
    r = client.get("/get/x")
    assert cookie_of(r) is not None and len(spy.ops("save")) == 1


def test_many_cookies_are_a_431(backend: Any) -> None:
    client, spy, _ = backend()
    header = "; ".join(f"c{i}=v" for i in range(3000))
    r = client.get("/get/x", headers={"cookie": header})
    assert r.status_code == 431 and spy.calls == []
    assert r.headers["x-content-type-options"] == "nosniff"


def test_session_data_round_trips_types(backend: Any) -> None:
    client, _, app = backend()

    @app.get("/types")
    async def types(request: Any) -> Any:
        if "n" not in request.session:
            request.session.update(n=1, f=1.5, s="é", lst=[1, "a"], d={"k": None}, b=True)
            return {}
        return dict(request.session.items())

    client.get("/types")
    assert client.get("/types").json() == {"n": 1, "f": 1.5, "s": "é", "lst": [1, "a"], "d": {"k": None}, "b": True}
