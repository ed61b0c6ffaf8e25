"""The three parts of SecurityMiddleware on their own (issue 10 item 9): SessionMiddleware (gobstopper.sessions),
CSRFMiddleware and SecurityHeadersMiddleware (gobstopper.middleware), and SecurityMiddleware as their composition."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.deploy import deploy_findings
from gobstopper.middleware import CSRFMiddleware, SecurityHeadersMiddleware, SecurityMiddleware
from gobstopper.middleware.csrf import csrf_token
from gobstopper.sessions import MemorySessionStorage, SessionMiddleware
from gobstopper.testing import TestClient

KEY = "k" * 32
ORIGIN = "https://testserver"
SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy")


def routes(app: Gobstopper, sessions: Any) -> None:
    @app.get("/")
    async def index(request: Any) -> Any:
        return {"user": request.session.get("user") if request.session is not None else None}

    @app.get("/token")
    async def token(request: Any) -> Any:
        return {"token": request.csrf_token}

    @app.get("/token-function")
    async def token_function(request: Any) -> Any:
        return {"token": csrf_token(request)}

    @app.post("/login")
    async def login(request: Any) -> Any:
        old = request.session_id
        new = await sessions.regenerate_session_id(request)
        request.session["user"] = "ada"
        return {"old": old, "new": new, "csrf": request.csrf_token}

    @app.post("/logout")
    async def logout(request: Any) -> Any:
        await sessions.logout(request)
        return {"csrf": request.csrf_token, "sid": request.session_id}

    @app.post("/change")
    async def change(request: Any) -> Any:
        return {"changed": True}

    @app.get("/boom")
    async def boom(request: Any) -> Any:
        raise RuntimeError("boom")


def sessions_app() -> tuple[Gobstopper, SessionMiddleware]:
    app = Gobstopper("sessions-only")
    sessions = SessionMiddleware(KEY, MemorySessionStorage())
    app.add_middleware(sessions, priority=1000)
    routes(app, sessions)
    return app, sessions


def layered_app() -> tuple[Gobstopper, SessionMiddleware]:
    """The three middlewares added one by one, in SecurityMiddleware's order."""
    app = Gobstopper("layered")
    sessions = SessionMiddleware(KEY, MemorySessionStorage())
    app.add_middleware(SecurityHeadersMiddleware(), priority=1100)
    app.add_middleware(sessions, priority=1000)
    app.add_middleware(CSRFMiddleware(), priority=900)
    routes(app, sessions)
    return app, sessions


def composed_app() -> tuple[Gobstopper, SecurityMiddleware]:
    app = Gobstopper("composed")
    security = SecurityMiddleware(KEY, session_storage=MemorySessionStorage())
    app.add_middleware(security, priority=1000)
    routes(app, security)
    return app, security


def test_the_new_names_are_exported() -> None:
    import gobstopper.middleware as middleware
    import gobstopper.sessions as sessions
    from gobstopper.middleware.csrf import CSRFMiddleware as FromModule
    from gobstopper.middleware.security_headers import SecurityHeadersMiddleware as HeadersFromModule
    from gobstopper.sessions.middleware import SessionMiddleware as SessionsFromModule

    assert middleware.CSRFMiddleware is FromModule and middleware.SecurityHeadersMiddleware is HeadersFromModule
    assert sessions.SessionMiddleware is SessionsFromModule and middleware.SessionMiddleware is SessionsFromModule
    for name in ("CSRFMiddleware", "SecurityHeadersMiddleware", "SessionMiddleware"):
        assert name in middleware.__all__
    assert "SessionMiddleware" in sessions.__all__


# -- sessions alone ----------------------------------------------------------------------------------------------


def test_sessions_without_csrf_keep_data_rotate_ids_and_log_out() -> None:
    app, _ = sessions_app()
    client = TestClient(app, base_url=ORIGIN)
    anonymous = client.get("/")
    assert anonymous.json() == {"user": None} and "set-cookie" not in anonymous.headers
    assert not any(h in anonymous.headers for h in SECURITY_HEADERS)  # headers are another middleware's job
    assert client.get("/token").json() == {"token": None}  # no CSRF middleware: no token
    assert client.get("/token-function").status_code == 500  # csrf_token(request) needs a CSRF middleware
    first = client.post("/login").json()  # no CSRF middleware: nothing checks the POST
    assert first["old"] is None and first["new"] and first["csrf"] is None
    assert client.get("/").json() == {"user": "ada"}
    before = client.cookies["session_id"]
    second = client.post("/login").json()
    assert second["old"] == first["new"] and second["new"] != first["new"]
    assert client.get("/").json() == {"user": "ada"}  # the data moved to the new id
    stale = TestClient(app, base_url=ORIGIN, cookies={"session_id": before})
    assert stale.get("/").json() == {"user": None}  # the old id is dead
    out = client.post("/logout")
    assert out.json() == {"csrf": None, "sid": None} and "max-age=0" in out.headers["set-cookie"].lower()
    assert client.get("/").json() == {"user": None}


def test_regenerate_alone_saves_the_session_under_the_new_id() -> None:
    app = Gobstopper("regenerate")
    sessions = SessionMiddleware(KEY, MemorySessionStorage())
    app.add_middleware(sessions, priority=1000)

    @app.get("/set")
    async def set_value(request: Any) -> Any:
        request.session["user"] = "ada"
        return {}

    @app.get("/rotate")
    async def rotate(request: Any) -> Any:
        return {"new": await sessions.regenerate_session_id(request)}  # the session is not otherwise changed

    @app.get("/who")
    async def who(request: Any) -> Any:
        return {"user": request.session.get("user"), "sid": request.session_id}

    client = TestClient(app, base_url=ORIGIN)
    client.get("/set")
    new = client.get("/rotate").json()["new"]
    assert client.get("/who").json() == {"user": "ada", "sid": new}


# -- CSRF needs sessions -----------------------------------------------------------------------------------------


def test_csrf_with_sessions_checks_tokens_and_origins() -> None:
    app, _ = layered_app()
    client = TestClient(app, base_url=ORIGIN)
    token = client.get("/token").json()["token"]
    same = {"Origin": ORIGIN}
    assert client.post("/change", headers=same).status_code == 403
    assert client.post("/change", headers={**same, "X-CSRF-Token": token}).json() == {"changed": True}
    assert client.post("/change", headers={"Origin": "https://evil.example", "X-CSRF-Token": token}).status_code == 403
    assert client.post("/change", headers={**same, "X-CSRF-Token": client.get("/token-function").json()["token"]})
    # Login (SessionMiddleware.regenerate_session_id) rotates the token: the one from before no longer passes.
    login = client.post("/login", headers={**same, "X-CSRF-Token": token}).json()
    assert login["csrf"] and login["csrf"] != token
    assert client.post("/change", headers={**same, "X-CSRF-Token": token}).status_code == 403
    assert client.post("/change", headers={**same, "X-CSRF-Token": login["csrf"]}).status_code == 200
    out = client.post("/logout", headers={**same, "X-CSRF-Token": login["csrf"]}).json()
    assert out["sid"] is None and out["csrf"] not in (None, login["csrf"])  # read after logout: a new session's
    assert client.post("/change", headers={**same, "X-CSRF-Token": login["csrf"]}).status_code == 403


def test_csrf_trusted_origins_header_and_field_names() -> None:
    app = Gobstopper("csrf-options")
    app.add_middleware(SessionMiddleware(KEY, MemorySessionStorage()), priority=1000)
    app.add_middleware(
        CSRFMiddleware(trusted_origins=["https://admin.example/"], header_name="X-Token", field_name="tok"),
        priority=900,
    )
    routes(app, None)
    client = TestClient(app, base_url=ORIGIN)
    token = client.get("/token").json()["token"]
    admin = {"Origin": "https://admin.example"}
    assert client.post("/change", headers={**admin, "X-Token": token}).status_code == 200
    assert client.post("/change", headers={**admin, "X-CSRF-Token": token}).status_code == 403
    assert client.post("/change", headers=admin, data={"tok": token}).status_code == 200


def test_csrf_without_sessions_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    app = Gobstopper("csrf-alone")
    app.add_middleware(CSRFMiddleware(), priority=900)
    reached: list[str] = []

    @app.post("/change")
    async def change(request: Any) -> Any:
        reached.append(request.method)
        return {"changed": True}

    with caplog.at_level(logging.ERROR):
        response = TestClient(app, base_url=ORIGIN).post("/change", headers={"Origin": ORIGIN})
    assert response.status_code == 500 and reached == []
    assert any("SessionMiddleware" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# -- headers alone -----------------------------------------------------------------------------------------------


def test_security_headers_alone_on_every_answer() -> None:
    app = Gobstopper("headers-alone")
    app.add_middleware(SecurityHeadersMiddleware(csp_policy="default-src 'none'", permissions_policy="camera=()"),
                       priority=1100)  # fmt: skip

    async def broken(request: Any, call_next: Any) -> Any:
        if request.path == "/broken-middleware":
            raise RuntimeError("inner middleware failed")
        return await call_next(request)

    app.add_middleware(broken, priority=10)

    @app.get("/")
    async def index(request: Any) -> Any:
        return {"session": request.session}

    @app.get("/boom")
    async def boom(request: Any) -> Any:
        raise RuntimeError("boom")

    @app.get("/own")
    async def own(request: Any) -> Any:
        return {}, 200, {"X-Frame-Options": "SAMEORIGIN"}

    http = TestClient(app)
    https = TestClient(app, base_url=ORIGIN)
    ok = http.get("/")
    assert ok.json() == {"session": None} and "set-cookie" not in ok.headers and "vary" not in ok.headers
    for response in (ok, http.get("/missing"), http.get("/boom"), http.get("/broken-middleware"), http.post("/")):
        assert response.headers["x-content-type-options"] == "nosniff", response.status_code
        assert response.headers["content-security-policy"] == "default-src 'none'"
        assert response.headers["permissions-policy"] == "camera=()"
    assert [http.get(p).status_code for p in ("/missing", "/boom", "/broken-middleware")] == [404, 500, 500]
    assert "strict-transport-security" not in ok.headers
    assert https.get("/").headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert http.get("/own").headers["x-frame-options"] == "SAMEORIGIN"
    no_hsts = SecurityHeadersMiddleware(hsts_max_age=0, csp_policy=None, frame_options=None, server_header="Gob")
    names = [name for name, _ in no_hsts._static_headers]
    assert (
        "content-security-policy" not in names
        and "x-frame-options" not in names
        and ("server", "Gob") in (no_hsts._static_headers)
    )


# -- SecurityMiddleware is the composition of the three -----------------------------------------------------------


def test_security_middleware_is_built_from_the_three_parts() -> None:
    security = SecurityMiddleware(
        KEY,
        session_storage=MemorySessionStorage(),
        cookie_name="sid",
        csrf_trusted_origins=["https://a.example"],
        csrf_header_name="X-T",
        csp_policy=None,
    )
    assert isinstance(security.sessions, SessionMiddleware)
    assert isinstance(security.csrf, CSRFMiddleware)
    assert isinstance(security.security_headers, SecurityHeadersMiddleware)
    assert security.cookie_name == security.sessions.cookie_name == "sid"
    assert security.csrf_trusted_origins == security.csrf.trusted_origins == frozenset({"https://a.example"})
    assert security.csrf_header_name == "x-t" and security.csp_policy is None
    security.cookie_secure = False  # the attribute lives on the part
    assert security.sessions.cookie_secure is False
    assert security.secret_key_generated is False and security.__name__ == "security"


def flow(app: Gobstopper) -> list[Any]:
    """One visit, login, change and logout; what a client sees at each step (tokens and ids left out)."""
    client = TestClient(app, base_url=ORIGIN)
    seen: list[Any] = []

    def record(response: Any) -> Any:
        cookie = response.headers.get("set-cookie", "")
        seen.append(
            (
                response.status_code,
                sorted(k for k in response.headers if k not in ("content-length", "date")),
                response.headers.get("vary"),
                response.headers.get("cache-control"),
                "max-age=0" in cookie.lower(),
            )
        )
        return response

    record(client.get("/"))
    token = record(client.get("/token")).json()["token"]
    same = {"Origin": ORIGIN}
    record(client.post("/change", headers=same))
    csrf = record(client.post("/login", headers={**same, "X-CSRF-Token": token})).json()["csrf"]
    record(client.post("/change", headers={**same, "X-CSRF-Token": token}))
    record(client.post("/change", headers={**same, "X-CSRF-Token": csrf}))
    record(client.get("/boom"))
    record(client.get("/missing"))
    record(client.post("/logout", headers={**same, "X-CSRF-Token": csrf}))
    record(client.get("/"))
    return seen


def test_the_three_middlewares_behave_as_security_middleware() -> None:
    composed, layered = flow(composed_app()[0]), flow(layered_app()[0])
    assert composed == layered
    assert [step[0] for step in composed] == [200, 200, 403, 200, 403, 200, 500, 404, 200, 200]


def test_the_deploy_check_names_a_session_middleware_with_a_random_key() -> None:
    app = Gobstopper("deploy", trusted_hosts=["example.com"])
    app.add_middleware(SessionMiddleware(debug=True, cookie_secure=False, session_storage=MemorySessionStorage()))
    found = {f.key: f for f in deploy_findings(app, {})}
    assert "SessionMiddleware has a random secret_key" in found["secret_key"].message
    assert "SessionMiddleware(" in found["cookies"].fix


@pytest.mark.parametrize("option", ["csp_policy", "referrer_policy", "permissions_policy", "server_header"])
def test_a_header_value_that_could_inject_is_refused_when_configured(option: str) -> None:
    # Checked once, at construction: the answers then carry the configured pairs without checking them again.
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        SecurityHeadersMiddleware(**{option: "default-src 'self'\r\nX-Injected: 1"})


def test_headers_the_handler_set_are_kept_whatever_their_case() -> None:
    app = Gobstopper("own-headers")
    app.add_middleware(SecurityHeadersMiddleware(frame_options="DENY"), priority=1100)

    @app.get("/")
    async def index(request: Any) -> Any:
        from gobstopper import Response

        return Response("x", headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src *"})

    with TestClient(app) as client:
        answer = client.get("/")
    assert answer.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert answer.headers.get_list("content-security-policy") == ["default-src *"]
    assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
