"""Typed settings: keywords, then the environment, then defaults; one parser with errors naming the variable."""

from __future__ import annotations

import ipaddress

import pytest

from gobstopper import Gobstopper
from gobstopper._env import SettingsError
from gobstopper.settings import DEFAULT_MAX_BODY_BYTES, HTTPSettings, Settings
from gobstopper.testing import TestClient


def test_defaults() -> None:
    settings = Settings.build({}, environ={})
    assert settings.http.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024
    assert settings.http.max_query_params == 1000
    assert settings.http.trusted_proxies == ()
    assert settings.http.trusted_hosts is None
    assert settings.lifecycle.shutdown_timeout == 10.0


def test_keywords_win_over_the_environment_which_wins_over_defaults() -> None:
    environ = {"GOBSTOPPER_MAX_BODY_BYTES": "2_000", "GOBSTOPPER_MAX_COOKIES": "7"}
    settings = Settings.build({"max_body_bytes": 100}, environ=environ)
    assert settings.http.max_body_bytes == 100
    assert settings.http.max_cookies == 7
    assert Settings.build({}, environ={"GOBSTOPPER_MAX_BODY_BYTES": "none"}).http.max_body_bytes is None


def test_lists_from_the_environment() -> None:
    environ = {"GOBSTOPPER_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "GOBSTOPPER_TRUSTED_HOSTS": "A.example,b.example"}
    http = Settings.build({}, environ=environ).http
    assert http.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))
    assert http.trusted_hosts == frozenset({"a.example", "b.example"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GOBSTOPPER_MAX_BODY_BYTES", "ten"),
        ("GOBSTOPPER_MAX_BODY_BYTES", "-1"),
        ("GOBSTOPPER_MAX_QUERY_PARAMS", "0"),
        ("GOBSTOPPER_JSON_MAX_DEPTH", "1.5"),
        ("GOBSTOPPER_TRUSTED_PROXIES", "not-an-address"),
        ("GOBSTOPPER_SHUTDOWN_TIMEOUT", "soon"),
    ],
)
def test_a_bad_environment_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        Gobstopper(__name__)
    assert variable in str(info.value) or variable.removeprefix("GOBSTOPPER_").lower() in str(info.value)
    assert value in str(info.value)


def test_unknown_keywords_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        Gobstopper(__name__, max_bodybytes=1)


def test_app_attributes_are_checked_views_on_the_settings() -> None:
    app = Gobstopper(__name__, max_body_bytes=5)
    assert app.max_body_bytes == app.settings.http.max_body_bytes == 5
    app.trusted_proxies = ["10.0.0.0/8"]
    assert app.settings.http.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"),)
    app.trusted_hosts = ["Example.COM"]
    assert app.settings.http.trusted_hosts == frozenset({"example.com"})
    with pytest.raises(SettingsError, match="max_query_params"):
        app.max_query_params = 0
    assert isinstance(app.settings.http, HTTPSettings)


def test_the_request_is_held_to_the_app_settings_set_after_creation() -> None:
    app = Gobstopper(__name__)

    @app.post("/echo")
    async def echo(request):
        return {"size": len(await request.get_data()), "limit": request.max_body_bytes}

    client = TestClient(app)
    app.max_body_bytes = 4
    assert client.post("/echo", content=b"abc").json() == {"size": 3, "limit": 4}
    assert client.post("/echo", content=b"abcdef").status_code == 413


def test_the_environment_is_read_at_creation_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_MAX_QUERY_PARAMS", "2")
    app = Gobstopper(__name__)
    monkeypatch.setenv("GOBSTOPPER_MAX_QUERY_PARAMS", "100")

    @app.get("/")
    async def index(request):
        return {"n": len(request.args)}

    assert TestClient(app).get("/?a=1&b=2&c=3").status_code == 400


def test_websocket_config_keys_are_read_at_startup() -> None:
    app = Gobstopper(__name__)
    app.config["MAX_WS_MESSAGE_BYTES"] = 5
    with TestClient(app):
        assert app.settings.websocket.max_message_bytes == 5


def test_request_id_logger_and_session_defaults() -> None:
    app = Gobstopper(__name__)

    @app.get("/")
    async def index(request):
        first = request.id
        return {
            "id": first,
            "stable": request.id == first,
            "session": request.session,
            "session_id": request.session_id,
            "logger": request.logger.name,
        }

    body = TestClient(app).get("/").json()
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
    assert body["stable"] is True
    assert body["session"] is None and body["session_id"] is None
    assert body["logger"] == __name__
