"""The deploy check (issue 17): ``gobstopper check --deploy`` and the warning at startup under ``ENV=production``."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gobstopper import Gobstopper
from gobstopper.cli.main import cli
from gobstopper.deploy import deploy_findings, is_production, warn_open_settings
from gobstopper.middleware import SecurityMiddleware
from gobstopper.testing import TestClient

KEY = "k" * 32


def keys(app: Gobstopper, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(f.key, f.where) for f in deploy_findings(app, environ or {})]


def open_app() -> Gobstopper:
    app = Gobstopper("open", debug=True, body_timeout=None, max_body_bytes=None)
    app.add_middleware(SecurityMiddleware(cookie_secure=False, cookie_httponly=False, debug=True))

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()

    return app


def hardened_app() -> Gobstopper:
    app = Gobstopper("hardened", trusted_hosts=["example.com"])
    app.config["WS_ALLOWED_ORIGINS"] = ["https://example.com"]
    app.add_middleware(SecurityMiddleware(secret_key=KEY))

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()

    return app


def test_an_open_app_has_every_finding_in_order() -> None:
    found = keys(open_app())
    assert found == [
        ("trusted_hosts", "app"),
        ("websocket_origin", "app"),
        ("debug", "app"),
        ("secret_key", "app"),
        ("cookies", "app"),
        ("body_timeout", "app"),
        ("body_limit", "app"),
    ]
    cookies = next(f for f in deploy_findings(open_app(), {}) if f.key == "cookies")
    assert "Secure and HttpOnly" in cookies.message


def test_a_hardened_app_has_none() -> None:
    assert keys(hardened_app()) == []


def test_defaults_leave_only_the_host_allow_list_open() -> None:
    """Out of the box: a body timeout and a body limit are on; no WebSocket routes, no sessions, no debug."""
    assert keys(Gobstopper("plain")) == [("trusted_hosts", "app")]


def test_forced_cookie_attributes_are_not_a_finding_unless_the_opt_out_is_set() -> None:
    app = Gobstopper("c", trusted_hosts=["example.com"])
    app.add_middleware(SecurityMiddleware(secret_key=KEY, cookie_secure=False))
    assert keys(app, {}) == [("cookies", "app")]
    assert keys(app, {"ENV": "production"}) == []
    assert keys(app, {"ENV": "production", "GOBSTOPPER_ALLOW_INSECURE_COOKIES": "1"}) == [("cookies", "app")]


def test_blueprint_middleware_and_mounted_apps_are_checked() -> None:
    from gobstopper import Blueprint

    app = hardened_app()
    bp = Blueprint("admin", url_prefix="/admin")
    bp.add_middleware(SecurityMiddleware(debug=True))

    @bp.get("/")
    async def index(request):
        return "admin"

    app.register_blueprint(bp)
    sub = Gobstopper("sub", trusted_hosts=["example.com"])

    @sub.websocket("/live")
    async def live(websocket):
        await websocket.accept()

    app.mount("/api", sub)
    assert keys(app) == [("secret_key", "app"), ("websocket_origin", "mount /api")]


def test_is_production() -> None:
    assert is_production({"ENV": "Production"}) and not is_production({}) and not is_production({"ENV": "dev"})


def test_startup_warns_once_under_env_production(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv("ENV", "production")
    app = open_app()
    with caplog.at_level(logging.WARNING, logger="open"):
        with TestClient(app):
            pass
        with TestClient(app):  # a second startup of the same app: no second warning
            pass
    warnings = [r for r in caplog.records if r.name == "open" and "gobstopper check --deploy" in r.getMessage()]
    assert len(warnings) == 1
    assert "[trusted_hosts]" in warnings[0].getMessage() and "[debug]" in warnings[0].getMessage()
    assert warn_open_settings(app) == []  # already warned


def test_no_warning_outside_production(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("ENV", raising=False)
    app = open_app()
    with caplog.at_level(logging.WARNING, logger="open"), TestClient(app):
        pass
    assert not [r for r in caplog.records if "gobstopper check --deploy" in r.getMessage()]


def write_app(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))


def test_cli_check_deploy_lists_findings_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(
        tmp_path,
        "deployed_open",
        """
        from gobstopper import Gobstopper
        app = Gobstopper(__name__, debug=True)
        """,
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--deploy", "deployed_open:app"])
    assert result.exit_code == 1, result.output
    assert "2 thing(s) left open" in result.output
    assert "[trusted_hosts] app:" in result.output and "[debug] app:" in result.output


def test_cli_check_deploy_on_a_hardened_app_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(
        tmp_path,
        "deployed_closed",
        """
        from gobstopper import Gobstopper
        app = Gobstopper(__name__, trusted_hosts=["example.com"])
        """,
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--deploy", "deployed_closed"])
    assert result.exit_code == 0, result.output
    assert "nothing left open" in result.output
    plain = CliRunner().invoke(cli, ["check", "deployed_closed:app"])
    assert plain.exit_code == 0 and "0 route(s)" in plain.output


def test_cli_check_refuses_what_is_not_an_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_app(tmp_path, "deployed_not_an_app", "app = 42\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--deploy", "deployed_not_an_app:app"])
    assert result.exit_code == 2 and "is not a Gobstopper app" in result.output
    missing = CliRunner().invoke(cli, ["check", "--deploy", "nowhere:app"])
    assert missing.exit_code == 2 and "cannot find module" in missing.output
