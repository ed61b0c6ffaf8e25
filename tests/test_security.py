"""SecurityMiddleware: security headers everywhere (docs/hardening.md row 39) and CSRF (row 44), plus notifications."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.http.notifications import clear_notifications, get_notifications, notification, peek_notifications
from gobstopper.middleware import SecurityMiddleware, StaticFileMiddleware
from gobstopper.sessions import MemorySessionStorage
from gobstopper.testing import TestClient

ORIGIN = "https://testserver"


def make_app(tmp_path: Path | None = None, **options: Any) -> tuple[Gobstopper, SecurityMiddleware]:
    app = Gobstopper(__name__)
    options.setdefault("secret_key", "s" * 32)
    security = SecurityMiddleware(session_storage=MemorySessionStorage(), **options)
    app.add_middleware(security, priority=1000)
    if tmp_path is not None:
        (tmp_path / "static").mkdir()
        (tmp_path / "static" / "app.css").write_text("body{}")
        app.add_middleware(StaticFileMiddleware(tmp_path / "static"), priority=10)

    @app.get("/")
    async def index(request: Any) -> Any:
        return {"ok": True}

    @app.get("/token")
    async def token(request: Any) -> Any:
        return {"token": security.generate_csrf_token(request.session)}

    @app.post("/echo")
    async def echo(request: Any) -> Any:
        await request.get_data()
        return {"posted": True}

    @app.route("/change", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def change(request: Any) -> Any:
        return {"method": request.method}

    @app.get("/boom")
    async def boom(request: Any) -> Any:
        raise RuntimeError("boom")

    @app.get("/own-csp")
    async def own_csp(request: Any) -> Any:
        return {}, 200, {"Content-Security-Policy": "default-src 'none'"}

    return app, security


HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'; object-src 'none'",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
}


@pytest.mark.parametrize(
    ("method", "path", "status", "content"),
    [
        ("GET", "/", 200, None),
        ("GET", "/nope", 404, None),
        ("GET", "/echo", 405, None),
        ("GET", "/boom", 500, None),
        ("GET", "/static/app.css", 200, None),
        ("GET", "/static/missing.css", 404, None),
    ],
)
def test_security_headers_on_every_answer(tmp_path: Path, method: str, path: str, status: int, content: Any) -> None:
    app, _ = make_app(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.request(method, path)
    assert r.status_code == status
    for name, value in HEADERS.items():
        assert r.headers[name] == value, name
    assert "strict-transport-security" not in r.headers  # plain HTTP
    assert "boom" not in r.text and "Traceback" not in r.text


def test_security_headers_on_413(tmp_path: Path) -> None:
    app, security = make_app(tmp_path, enable_csrf=False)
    app.max_body_bytes = 100
    with TestClient(app) as client:
        r = client.post("/echo", content=b"x" * 1000)
    assert r.status_code == 413
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_hsts_only_on_https_and_configurable() -> None:
    app, _ = make_app(hsts_max_age=600, hsts_include_subdomains=False)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/").headers["strict-transport-security"] == "max-age=600"
    app, _ = make_app(hsts_max_age=0, csp_policy=None, coep_policy=None, frame_options="SAMEORIGIN")
    with TestClient(app, base_url="https://testserver") as client:
        r = client.get("/")
    assert "strict-transport-security" not in r.headers and "content-security-policy" not in r.headers
    assert "cross-origin-embedder-policy" not in r.headers and r.headers["x-frame-options"] == "SAMEORIGIN"


def test_handler_headers_win_and_headers_can_be_disabled() -> None:
    app, _ = make_app()
    with TestClient(app) as client:
        assert client.get("/own-csp").headers["content-security-policy"] == "default-src 'none'"
    app, _ = make_app(enable_security_headers=False)
    with TestClient(app) as client:
        assert "x-frame-options" not in client.get("/").headers


# -- CSRF (row 44) -----------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client() -> Any:
    app, _ = make_app()
    with TestClient(app, base_url="https://testserver") as client:
        token = client.get("/token").json()["token"]
        client.headers["origin"] = ORIGIN
        yield client, token


def test_valid_token_in_header_passes(csrf_client: Any) -> None:
    client, token = csrf_client
    assert client.post("/change", headers={"x-csrf-token": token}).status_code == 200


def test_valid_token_in_urlencoded_form_passes(csrf_client: Any) -> None:
    client, token = csrf_client
    r = client.post("/change", data={"csrf_token": token, "x": "1"})
    assert r.status_code == 200, r.text


def test_valid_token_in_multipart_form_passes(csrf_client: Any) -> None:
    client, token = csrf_client
    r = client.post("/change", data={"csrf_token": token}, files={"f": ("a.txt", b"hi")})
    assert r.status_code == 200, r.text


def test_each_masked_token_differs_and_each_is_valid(csrf_client: Any) -> None:
    client, token = csrf_client
    other = client.get("/token").json()["token"]
    assert other != token
    for t in (token, other):
        assert client.post("/change", headers={"x-csrf-token": t}).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_missing_token_is_403_for_unsafe_methods(csrf_client: Any, method: str) -> None:
    client, _ = csrf_client
    assert client.request(method, "/change").status_code == 403


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_exempt(csrf_client: Any, method: str) -> None:
    client, _ = csrf_client
    assert client.request(method, "/change", headers={"origin": "https://evil.example"}).status_code == 200


def test_token_from_another_session_is_403(csrf_client: Any) -> None:
    client, _ = csrf_client
    app, _ = make_app()
    with TestClient(app, base_url="https://testserver") as other:
        foreign = other.get("/token").json()["token"]
    assert client.post("/change", headers={"x-csrf-token": foreign}).status_code == 403


def test_token_only_in_a_cookie_is_403(csrf_client: Any) -> None:
    client, token = csrf_client
    client.cookies.set("csrf_token", token)
    assert client.post("/change").status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "https://testserver.evil.example"},
        {"origin": "http://testserver"},  # another scheme is another origin
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_foreign_origin_or_cross_site_fetch_is_403_even_with_a_valid_token(csrf_client: Any, headers: Any) -> None:
    client, token = csrf_client
    r = client.post("/change", headers={"x-csrf-token": token, **headers})
    assert r.status_code == 403


def test_https_without_origin_needs_a_same_origin_referer(csrf_client: Any) -> None:
    client, token = csrf_client
    del client.headers["origin"]
    assert client.post("/change", headers={"x-csrf-token": token}).status_code == 403
    bad = {"x-csrf-token": token, "referer": "https://evil.example/form"}
    assert client.post("/change", headers=bad).status_code == 403
    good = {"x-csrf-token": token, "referer": "https://testserver/form"}
    assert client.post("/change", headers=good).status_code == 200


def test_trusted_origins_are_accepted() -> None:
    app, _ = make_app(csrf_trusted_origins=["https://admin.example"])
    with TestClient(app, base_url="https://testserver") as client:
        token = client.get("/token").json()["token"]
        headers = {"x-csrf-token": token, "origin": "https://admin.example"}
        assert client.post("/change", headers=headers).status_code == 200


def test_token_sent_by_get_does_not_authorise_a_post(csrf_client: Any) -> None:
    client, token = csrf_client
    assert client.get("/change", params={"csrf_token": token}).status_code == 200
    assert client.post("/change", params={"csrf_token": token}).status_code == 403


def test_failure_never_echoes_the_token(csrf_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    client, token = csrf_client
    wrong = token[:-4] + "AAAA"
    r = client.post("/change", headers={"x-csrf-token": wrong, "accept": "text/html"})
    assert r.status_code == 403
    assert token not in r.text and wrong not in r.text and wrong[:20] not in r.text
    assert all(wrong not in rec.getMessage() and token not in rec.getMessage() for rec in caplog.records)
    assert any("CSRF" in rec.getMessage() for rec in caplog.records)


def test_comparison_is_constant_time(csrf_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, token = csrf_client
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert client.post("/change", headers={"x-csrf-token": token}).status_code == 200
    # Session MAC check and CSRF token check both went through compare_digest.
    assert len(calls) >= 2
    calls.clear()
    assert client.post("/change", headers={"x-csrf-token": "A" * 86}).status_code == 403
    assert len(calls) >= 2


def test_csrf_can_be_disabled() -> None:
    app, _ = make_app(enable_csrf=False)
    with TestClient(app) as client:
        assert client.post("/change", headers={"origin": "https://evil.example"}).status_code == 200


def test_request_csrf_token_is_created_on_first_read() -> None:
    """Issue 11 item 7: Django's get_token semantics, within the request's own session."""
    app, security = make_app()

    @app.get("/attr")
    async def attr(request: Any) -> Any:
        first = request.csrf_token
        return {"token": first, "again": request.csrf_token}

    @app.get("/cold")
    async def cold(request: Any) -> Any:
        return {"cold": True}  # never reads the token: no session is created

    with TestClient(app, base_url="https://testserver") as client:
        cold_answer = client.get("/cold")
        assert "set-cookie" not in cold_answer.headers
        r = client.get("/attr")
        token = r.json()["token"]
        assert token and r.json()["again"] == token  # one value per response
        assert "session_id=" in r.headers["set-cookie"]  # the session holding the secret was saved
        assert "cookie" in r.headers["vary"].lower() and r.headers["cache-control"] == "private"
        assert client.post("/change", headers={"x-csrf-token": token, "origin": ORIGIN}).status_code == 200
        # A session that already has a secret: the same secret, masked afresh, no new cookie.
        r = client.get("/attr")
        assert r.json()["token"] != token and "set-cookie" not in r.headers
        assert client.post("/change", headers={"x-csrf-token": r.json()["token"], "origin": ORIGIN}).status_code == 200


def test_request_csrf_token_without_security_middleware_is_none() -> None:
    app = Gobstopper(__name__)

    @app.get("/attr")
    async def attr(request: Any) -> Any:
        return {"token": request.csrf_token}

    assert TestClient(app).get("/attr").json() == {"token": None}


def test_host_cookie_prefix_rules() -> None:
    with pytest.raises(ValueError):
        SecurityMiddleware("k" * 32, session_storage=MemorySessionStorage(), cookie_name="__Host-s", cookie_path="/a")
    with pytest.raises(ValueError):
        SecurityMiddleware(
            "k" * 32, session_storage=MemorySessionStorage(), cookie_name="__Host-s", cookie_secure=False
        )


# -- notifications -----------------------------------------------------------------------------------------------


def test_notifications_flow() -> None:
    app, _ = make_app()

    @app.get("/notify/<category>/<message>")
    async def notify(request: Any, category: str, message: str) -> Any:
        notification(request, message, category)
        return {}

    @app.get("/peek")
    async def peek(request: Any) -> Any:
        return {"items": peek_notifications(request, with_categories=True)}

    @app.get("/take")
    async def take(request: Any) -> Any:
        return {"items": get_notifications(request)}

    @app.get("/take-errors")
    async def take_errors(request: Any) -> Any:
        return {"items": get_notifications(request, category_filter="error")}

    @app.get("/clear-notes")
    async def clear_notes(request: Any) -> Any:
        clear_notifications(request)
        return {}

    with TestClient(app, base_url="https://testserver") as client:
        client.get("/notify/success/saved")
        client.get("/notify/error/oops")
        assert client.get("/peek").json()["items"] == [["success", "saved"], ["error", "oops"]]
        assert client.get("/take-errors").json()["items"] == ["oops"]
        assert client.get("/take").json()["items"] == ["saved"]
        assert client.get("/take").json()["items"] == []
        client.get("/notify/info/x")
        client.get("/clear-notes")
        assert client.get("/peek").json()["items"] == []
        for i in range(80):
            client.get(f"/notify/info/{i}")
        items = client.get("/take").json()["items"]
        assert len(items) == 50 and items[-1] == "79"  # bounded, oldest dropped


def test_notifications_need_a_session() -> None:
    app = Gobstopper(__name__)

    @app.get("/")
    async def index(request: Any) -> Any:
        notification(request, "hi")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500


def test_server_header_is_replaced_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import granian  # noqa: F401 - what a Granian worker has imported

    from gobstopper import Gobstopper
    from gobstopper.middleware import SecurityMiddleware
    from gobstopper.testing import RSGITestClient, TestClient

    app = Gobstopper("srv")
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32, enable_csrf=False))

    @app.get("/")
    async def index(request):
        return "x"

    # In a Granian worker an empty value is what stops Granian from adding "server: granian" (checked on real
    # Granian, RSGI and ASGI).
    with RSGITestClient(app) as client:
        assert client.get("/").headers.get_list("server") == [""]
    assert [v for v in TestClient(app).get("/").headers.get_list("server") if v] == []
    # Elsewhere (uvicorn puts its own header first whatever the app sends) nothing: one Server header at most.
    monkeypatch.delitem(sys.modules, "granian")
    assert "server" not in TestClient(app).get("/").headers
    named = Gobstopper("named")
    named.add_middleware(SecurityMiddleware(secret_key="k" * 32, enable_csrf=False, server_header="edge"))
    named.get("/")(index)
    assert TestClient(named).get("/").headers.get_list("server") == ["edge"]
    kept = Gobstopper("kept")
    kept.add_middleware(SecurityMiddleware(secret_key="k" * 32, enable_csrf=False, server_header=None))
    kept.get("/")(index)
    assert "server" not in TestClient(kept).get("/").headers
