"""The route table: records parsed once, prefixes joined with one slash, url_for from the record, static folders
as routes, and the startup check of hooks."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import msgspec
import pytest

from gobstopper import Blueprint, Gobstopper, StaticFileMiddleware
from gobstopper._native import pattern, router
from gobstopper.core.routes import Param, RouteRecord, join_path
from gobstopper.testing import TestClient


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (("/a/", "c/"), "/a/c/"),
        (("/api", "/"), "/api/"),
        (("/api", ""), "/api"),
        (("", "users"), "/users"),
        (("", ""), "/"),
        (("/a", "/b/", "/c"), "/a/b/c"),
        (("/a//", "//c"), "/a/c"),
    ],
)
def test_join_path(parts: tuple[str, ...], joined: str) -> None:
    assert join_path(*parts) == joined


class Item(msgspec.Struct):
    name: str


def test_a_record_holds_what_the_pattern_and_the_handler_say() -> None:
    app = Gobstopper(__name__)
    api = Blueprint("api", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")

    @v1.post("/items/<int:shop>/<slug>")
    async def create(request, shop: int, slug: int, item: Item) -> dict[str, str]:
        """Create an item.

        More words."""
        return {}

    @app.websocket("/ws/<room>")
    async def ws(websocket, room):
        pass

    api.register_blueprint(v1)
    app.register_blueprint(api)
    record = next(r for r in app.route_table if r.name == "api.v1.create")
    assert isinstance(record, RouteRecord)
    assert record.pattern == "/api/v1/items/<int:shop>/<slug>"
    assert record.methods == ("POST",)
    assert record.blueprints == ("api", "api.v1")
    assert record.params == (Param("shop", "int"), Param("slug", "str"))
    assert record.url_format == "/api/v1/items/{shop}/{slug}"
    assert set(record.casts) == {"slug"}  # an annotation converts a str parameter only
    assert record.body == ("item", Item)
    assert record.return_annotation == dict[str, str]
    assert record.doc == "Create an item.\n\nMore words."
    assert record.is_async and not record.websocket
    with pytest.raises(AttributeError):
        record.pattern = "/x"  # type: ignore[misc]
    ws_record = next(r for r in app.route_table if r.websocket)
    assert (ws_record.pattern, ws_record.methods, ws_record.body) == ("/ws/<room>", (), None)
    assert [r.name for r in app.routes] == ["api.v1.create"]
    assert [r.name for r in app.websocket_routes] == ["ws"]
    assert ws_record.return_annotation is inspect.Signature.empty


def test_url_for_never_parses_the_pattern_again(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Gobstopper(__name__)

    @app.get("/u/<int:uid>/files/<path:rest>/{literal}")
    async def files(request, uid, rest):
        return ""

    monkeypatch.setattr(pattern, "parse_pattern", lambda text: pytest.fail("parsed again"))
    # Literal text stays as registered; parameters are quoted (a path parameter keeps its slashes).
    assert app.url_for("files", uid=3, rest="a b/c", q="1") == "/u/3/files/a%20b/c/{literal}?q=1"
    with pytest.raises(ValueError, match="missing parameter"):
        app.url_for("files", uid=3)
    with pytest.raises(ValueError, match="bad value"):
        app.url_for("files", uid="x", rest="a")


def test_the_head_rule_is_the_routers(tmp_path: Path) -> None:
    assert router.target_for({"GET": 1}, "HEAD") == 1
    assert router.target_for({"GET": 1, "HEAD": 2}, "HEAD") == 2
    assert router.target_for({"POST": 1}, "HEAD") is None
    assert router.allowed_methods({"GET"}) == {"GET", "HEAD", "OPTIONS"}
    assert router.allowed_methods({"POST"}) == {"POST", "OPTIONS"}


def test_a_static_folder_is_a_route_named_static(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("body{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.js").write_text("1")
    app = Gobstopper(__name__, static_folder=tmp_path)
    assert app.url_for("static", filename="sub/x.js") == "/static/sub/x.js"
    client = TestClient(app)
    r = client.get("/static/app.css")
    assert (r.status_code, r.text, r.headers["content-type"]) == (200, "body{}", "text/css; charset=utf-8")
    etag = r.headers["etag"]
    assert client.get("/static/app.css", headers={"if-none-match": etag}).status_code == 304
    assert client.get("/static/../secret").status_code == 404
    assert client.get("/static/missing.css").status_code == 404
    assert client.head("/static/sub/x.js").headers["content-length"] == "1"


def test_a_blueprint_static_folder_is_a_route_under_its_prefix(tmp_path: Path) -> None:
    (tmp_path / "admin.js").write_text("admin")
    admin = Blueprint("admin", url_prefix="/admin", static_folder=str(tmp_path))
    app = Gobstopper(__name__)
    app.register_blueprint(admin)
    assert app.url_for("admin.static", filename="admin.js") == "/admin/static/admin.js"
    assert TestClient(app).get("/admin/static/admin.js").text == "admin"


def test_static_middleware_is_left_out_of_routes_it_can_never_serve(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("file")
    app = Gobstopper(__name__)
    app.add_middleware(StaticFileMiddleware(str(tmp_path), url_prefix="/static"), priority=1000)

    @app.get("/plain")
    async def plain(request):
        return "plain"

    @app.get("/<name>/<path:rest>")
    async def anything(request, name, rest):
        return "anything"

    client = TestClient(app)
    assert client.get("/plain").text == "plain"
    assert client.get("/static/f.txt").text == "file"  # the dynamic route could match: static keeps its place
    assert client.get("/other/x").text == "anything"
    routes = {route.name: route for route in app._dispatcher.routes}
    assert routes["plain"].direct is not None  # nothing around the handler
    assert [e.name for e in routes["anything"].middleware_entries()] == ["static(/static)"]


def test_startup_names_a_hook_that_cannot_be_called() -> None:
    app = Gobstopper(__name__)
    bp = Blueprint("bp", url_prefix="/bp")

    @bp.after_request
    async def forgot_the_response(request):
        return None

    app.register_blueprint(bp)
    with pytest.raises(TypeError, match=r"after_request hook .*forgot_the_response on blueprint 'bp'.*response"):
        asyncio.run(app.startup())


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (lambda app: app.before_request(lambda: None), "before_request hook"),
        (lambda app: app.add_middleware(lambda request: None), "middleware"),
        (lambda app: app.error_handler(404)(lambda request: None), "error handler"),
    ],
)
def test_startup_checks_every_kind_of_hook(register, message: str) -> None:
    app = Gobstopper(__name__)
    register(app)
    with pytest.raises(TypeError, match=message):
        asyncio.run(app.startup())


def test_flexible_hooks_pass_the_check() -> None:
    app = Gobstopper(__name__)
    app.before_request(lambda *args: None)
    app.after_request(lambda request, response, extra=None: None)
    app.add_middleware(lambda request, call_next: call_next(request))

    @app.get("/")
    async def index(request):
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
