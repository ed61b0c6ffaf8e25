"""The extension protocol: registration, blueprints, and the lifecycle order around the app's own handlers."""

from __future__ import annotations

from typing import Any

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.extensions import Extension
from gobstopper.testing import TestClient


class Recorder:
    def __init__(self, name: str, log: list[str], sync: bool = False) -> None:
        self.name = name
        self.log = log
        self.apps: list[Any] = []
        if sync:
            self.startup = lambda: log.append(f"{name}.startup")  # type: ignore[method-assign]
            self.shutdown = lambda: log.append(f"{name}.shutdown")  # type: ignore[method-assign]

    def init_app(self, app: Any) -> None:
        self.apps.append(app)

    async def startup(self) -> None:
        self.log.append(f"{self.name}.startup")

    async def shutdown(self) -> None:
        self.log.append(f"{self.name}.shutdown")


def test_register_extension_stores_it_and_calls_init_app_once() -> None:
    app = Gobstopper(__name__)
    ext = Recorder("one", [])
    assert app.register_extension(ext) is ext
    assert app.extensions == {"one": ext}
    assert app.register_extension(ext) is ext  # the same object again is a no-op
    assert ext.apps == [app]
    assert isinstance(ext, Extension)


def test_a_second_extension_with_the_same_name_is_refused() -> None:
    app = Gobstopper(__name__)
    app.register_extension(Recorder("one", []))
    with pytest.raises(ValueError, match="already registered as 'one'"):
        app.register_extension(Recorder("one", []))


@pytest.mark.parametrize("bad", [object(), type("NoInit", (), {"name": "x"})()])
def test_an_object_without_the_protocol_is_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        Gobstopper(__name__).register_extension(bad)


def test_a_failing_init_app_leaves_no_trace() -> None:
    class Broken:
        name = "broken"

        def init_app(self, app: Any) -> None:
            raise RuntimeError("boom")

    app = Gobstopper(__name__)
    with pytest.raises(RuntimeError, match="boom"):
        app.register_extension(Broken())
    assert app.extensions == {}


def test_blueprints_of_an_extension_are_registered() -> None:
    bp = Blueprint("admin", url_prefix="/admin")

    @bp.get("/ping")
    async def ping(request):
        return "pong"

    ext = Recorder("admin", [])
    ext.blueprints = [bp]  # type: ignore[attr-defined]
    app = Gobstopper(__name__)
    app.register_extension(ext)
    assert TestClient(app).get("/admin/ping").text == "pong"
    assert app.url_for("admin.ping") == "/admin/ping"


def test_lifecycle_order_extensions_wrap_the_app_handlers() -> None:
    log: list[str] = []
    app = Gobstopper(__name__)
    app.register_extension(Recorder("a", log))
    app.register_extension(Recorder("b", log, sync=True))
    app.on_startup(lambda: log.append("app.startup"))
    app.on_shutdown(lambda: log.append("app.shutdown"))
    with TestClient(app):
        assert log == ["a.startup", "b.startup", "app.startup"]
    assert log[3:] == ["app.shutdown", "b.shutdown", "a.shutdown"]


def test_a_failed_extension_startup_is_retried_from_where_it_failed() -> None:
    log: list[str] = []
    attempts = []

    class Flaky(Recorder):
        async def startup(self) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("not yet")
            log.append("flaky.startup")

    app = Gobstopper(__name__)
    app.register_extension(Recorder("first", log))
    app.register_extension(Flaky("flaky", log))

    @app.get("/")
    async def index(request):
        return "ok"

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").status_code == 500  # no lifespan: startup runs on the first request, and fails
    assert client.get("/").text == "ok"
    assert log == ["first.startup", "flaky.startup"]
