"""The application core through the ASGI test client: routing, blueprints, hooks, middleware, errors, lifecycle."""

from __future__ import annotations

import asyncio
import datetime

import msgspec
import pytest

from gobstopper import (
    Blueprint,
    Gobstopper,
    HTTPException,
    JSONResponse,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
)
from gobstopper._native.router import RouteConflict
from gobstopper.testing import TestClient


@pytest.fixture
def app() -> Gobstopper:
    return Gobstopper("test")


def test_return_value_table(app: Gobstopper) -> None:
    class Item(msgspec.Struct):
        name: str

    @app.get("/dict")
    async def d(request):
        return {"a": 1}

    @app.get("/list")
    async def lst(request):
        return [1, 2]

    @app.get("/struct")
    async def st(request):
        return Item("x")

    @app.get("/str")
    async def s(request):
        return "<p>hi</p>"

    @app.get("/bytes")
    async def b(request):
        return b"\x00\x01"

    @app.get("/none")
    async def n(request):
        return None

    @app.get("/tuple2")
    async def t2(request):
        return {"created": True}, 201

    @app.get("/tuple3")
    async def t3(request):
        return "made", 202, {"X-Id": "7"}

    @app.get("/tuple-headers")
    async def th(request):
        return "ok", {"X-A": "b"}

    client = TestClient(app)
    r = client.get("/dict")
    assert (r.status_code, r.headers["content-type"], r.json()) == (200, "application/json", {"a": 1})
    assert client.get("/list").json() == [1, 2]
    assert client.get("/struct").json() == {"name": "x"}
    r = client.get("/str")
    assert (r.headers["content-type"], r.text) == ("text/html; charset=utf-8", "<p>hi</p>")
    r = client.get("/bytes")
    assert (r.headers["content-type"], r.content) == ("application/octet-stream", b"\x00\x01")
    r = client.get("/none")
    assert (r.status_code, r.content, "content-type" in r.headers) == (204, b"", False)
    assert client.get("/tuple2").status_code == 201
    r = client.get("/tuple3")
    assert (r.status_code, r.text, r.headers["x-id"]) == (202, "made", "7")
    assert client.get("/tuple-headers").headers["x-a"] == "b"


def test_unsupported_return_value_is_a_500_not_a_repr(app: Gobstopper) -> None:
    @app.get("/")
    async def bad(request):
        return object()

    r = TestClient(app).get("/")
    assert r.status_code == 500
    assert "object at" not in r.text


def test_sync_handlers_run_off_the_loop(app: Gobstopper) -> None:
    import threading

    main = threading.get_ident()

    @app.get("/")
    def sync(request):
        return {"same_thread": threading.get_ident() == main}

    assert TestClient(app).get("/").json() == {"same_thread": False}


def test_404_405_options_head(app: Gobstopper) -> None:
    @app.route("/r", methods=["GET", "POST"])
    async def resource(request):
        return "abc"

    client = TestClient(app)
    assert client.get("/missing").status_code == 404
    assert client.get("/missing").headers["content-type"] == "application/problem+json"
    r = client.delete("/r")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    r = client.options("/r")
    assert (r.status_code, r.headers["allow"], r.content) == (200, "GET, HEAD, OPTIONS, POST", b"")
    r = client.head("/r")
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "3")


def test_exact_path_table_gives_the_routers_answer(app: Gobstopper) -> None:
    # handle() looks parameterless routes up in its exact-path table before the router: same route, every time.
    async def handler(request, **params):
        return request.endpoint

    app.route("/a", name="get_a")(handler)
    app.route("/a", methods=["post"], name="post_a")(handler)
    app.route("/b", methods=["HEAD"], name="head_b")(handler)  # explicit HEAD first, then GET
    app.route("/b", name="get_b")(handler)
    app.route("/c", name="get_c")(handler)  # GET first, then an explicit HEAD replaces the automatic one
    app.route("/c", methods=["HEAD"], name="head_c")(handler)
    app.route("/c/", name="get_c_slash")(handler)
    app.route("/<name>", name="by_name")(handler)  # a dynamic route behind the static ones
    api = Blueprint("api", url_prefix="/api")
    api.route("/items", methods=["PUT"], name="put_items")(handler)
    app.register_blueprint(api)

    for path, by_method in app._dispatcher.exact.items():
        for method, route in by_method.items():
            assert app._dispatcher.router.match(method, path)[1] is route, (method, path)
    assert {m: r.name for m, r in app._dispatcher.exact["/b"].items()} == {"HEAD": "head_b", "GET": "get_b"}
    assert {m: r.name for m, r in app._dispatcher.exact["/c"].items()} == {"GET": "get_c", "HEAD": "head_c"}
    client = TestClient(app)
    assert client.post("/a").text == "post_a"
    assert client.get("/c/").text == "get_c_slash"
    assert client.put("/api/items").text == "api.put_items"
    assert client.post("/b").status_code == 405  # the static path exists, the method does not: the router decides
    assert client.get("/zzz").text == "by_name"


def test_html_clients_get_an_html_error_page(app: Gobstopper) -> None:
    r = TestClient(app).get("/nope", headers={"accept": "text/html,*/*"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "404 Not Found" in r.text


def test_registered_options_route_replaces_the_automatic_answer(app: Gobstopper) -> None:
    @app.options("/x")
    async def opts(request):
        return Response("", headers={"Allow": "GET, POST"})

    assert TestClient(app).options("/x").headers["allow"] == "GET, POST"


def test_converter_and_annotation_errors_are_400_with_a_message(app: Gobstopper) -> None:
    @app.get("/d/<date:d>")
    async def d(request, d):
        return {"d": d.isoformat()}

    @app.get("/n/<n>")
    async def n(request, n: int):
        return {"n": n, "type": type(n).__name__}

    client = TestClient(app)
    assert client.get("/d/2024-02-29").json() == {"d": "2024-02-29"}
    r = client.get("/d/2024-02-30")
    assert r.status_code == 400
    assert "path parameter 'd'" in r.json()["detail"]
    assert client.get("/n/5").json() == {"n": 5, "type": "int"}
    r = client.get("/n/five")
    assert (r.status_code, "path parameter 'n'" in r.json()["detail"]) == (400, True)


def test_duplicate_route_is_an_error_at_registration(app: Gobstopper) -> None:
    @app.get("/u/<int:id>")
    async def a(request, id):
        return ""

    with pytest.raises(RouteConflict, match="GET /u/<int:other>"):

        @app.get("/u/<int:other>")
        async def b(request, other):
            return ""


def test_url_for_and_blueprints(app: Gobstopper) -> None:
    admin = Blueprint("admin")
    api = Blueprint("api", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")

    @admin.get("/login")
    async def login(request):
        return request.endpoint

    @v1.get("/users/<int:id>")
    async def user(request, id):
        return {"endpoint": request.endpoint, "rule": request.url_rule, "args": request.view_args}

    @app.get("/users/<int:id>", name="user_detail")
    async def get_user(request, id):
        return {}

    @app.get("/files/<path:p>")
    async def files(request, p):
        return {}

    api.register_blueprint(v1)
    app.register_blueprint(admin, url_prefix="/admin")
    app.register_blueprint(api)
    assert app.url_for("admin.login") == "/admin/login"
    assert app.url_for("user_detail", id=123) == "/users/123"
    assert app.url_for("api.v1.user", id=5, q="a b") == "/api/v1/users/5?q=a+b"
    assert app.url_for("files", p="a b/c") == "/files/a%20b/c"
    with pytest.raises(ValueError):
        app.url_for("user_detail")
    with pytest.raises(ValueError):
        app.url_for("nope")
    client = TestClient(app)
    assert client.get("/admin/login").text == "admin.login"
    assert client.get("/api/v1/users/5").json() == {
        "endpoint": "api.v1.user",
        "rule": "/api/v1/users/<int:id>",
        "args": {"id": 5},
    }


def test_routes_added_to_a_registered_blueprint_are_refused(app: Gobstopper) -> None:
    bp = Blueprint("bp")
    app.register_blueprint(bp)
    with pytest.raises(RuntimeError):

        @bp.get("/late")
        async def late(request):
            return ""


def test_middleware_order_hooks_and_blueprint_scoping(app: Gobstopper) -> None:
    calls: list[str] = []

    def mw(name):
        async def middleware(request, call_next):
            calls.append(f"{name}>")
            response = await call_next(request)
            calls.append(f"<{name}")
            return response

        middleware.__name__ = name
        return middleware

    app.add_middleware(mw("app0"))
    app.add_middleware(mw("app100"), priority=100)
    app.add_middleware(mw("app0b"))
    bp = Blueprint("bp", url_prefix="/bp")
    bp.add_middleware(mw("bp50"), priority=50)

    @app.before_request
    def before(request):
        calls.append("before")

    @app.after_request
    async def after(request, response):
        calls.append("after")
        response.headers["X-After"] = "1"

    @bp.before_request
    def bp_before(request):
        calls.append("bp_before")

    @bp.get("/x")
    async def x(request):
        calls.append("handler")
        return "x"

    @app.get("/y")
    async def y(request):
        calls.append("handler")
        return "y"

    app.register_blueprint(bp)
    client = TestClient(app)
    assert client.get("/bp/x").headers["x-after"] == "1"
    assert calls == [
        "app100>", "app0>", "app0b>", "bp50>", "before", "bp_before", "handler", "after",
        "<bp50", "<app0b", "<app0", "<app100",
    ]  # fmt: skip
    calls.clear()
    client.get("/y")
    assert calls == ["app100>", "app0>", "app0b>", "before", "handler", "after", "<app0b", "<app0", "<app100"]
    assert "MW order: ['app100', 'app0', 'app0b', 'bp50']" in app.visualize_routing()


def test_middleware_sees_404_and_can_short_circuit(app: Gobstopper) -> None:
    async def cors(request, call_next):
        if request.method == "OPTIONS":
            return Response("", status=204, headers={"Access-Control-Allow-Origin": "*"})
        response = await call_next(request)
        response.headers["X-Seen"] = "1"
        return response

    app.add_middleware(cors)

    @app.get("/only-get")
    async def only_get(request):
        return "ok"

    client = TestClient(app)
    assert client.get("/nope").headers["x-seen"] == "1"
    assert client.post("/only-get").headers["x-seen"] == "1"
    assert client.options("/only-get").status_code == 204


def test_before_request_short_circuits_and_after_request_replaces(app: Gobstopper) -> None:
    @app.before_request
    async def guard(request):
        if request.headers.get("authorization") is None:
            return Response("Unauthorized", status=401)

    @app.after_request
    def replace(request, response):
        if response.status == 200:
            return JSONResponse({"replaced": True})

    @app.get("/")
    async def index(request):
        return "original"

    client = TestClient(app)
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"Authorization": "x"}).json() == {"replaced": True}


def test_error_handlers_by_status_and_exception_class(app: Gobstopper) -> None:
    class Boom(Exception):
        pass

    class BigBoom(Boom):
        pass

    @app.error_handler(404)
    async def not_found(request, error):
        return {"missing": request.path}, 404

    @app.error_handler(Boom)
    def boom(request, error):
        return f"boom: {type(error).__name__}", 418

    @app.error_handler(500)
    def internal(request, error):
        return JSONResponse({"error": str(error)}, status=500)

    @app.get("/big")
    async def big(request):
        raise BigBoom()

    @app.get("/abort")
    async def aborts(request):
        abort(404, "User not found")

    @app.get("/crash")
    async def crash(request):
        raise RuntimeError("kaput")

    client = TestClient(app)
    assert client.get("/nope").json() == {"missing": "/nope"}
    assert client.get("/abort").json() == {"missing": "/abort"}
    r = client.get("/big")
    assert (r.status_code, r.text) == (418, "boom: BigBoom")
    r = client.get("/crash")
    assert (r.status_code, r.json()) == (500, {"error": "kaput"})


def test_default_500_hides_the_traceback_unless_debug(app: Gobstopper) -> None:
    @app.get("/crash")
    async def crash(request):
        raise RuntimeError("secret detail")

    assert "secret detail" not in TestClient(app).get("/crash").text
    app.debug = True
    assert "secret detail" in TestClient(app).get("/crash").text


def test_http_exception_description_and_custom_response(app: Gobstopper) -> None:
    @app.get("/a")
    async def a(request):
        raise HTTPException(403, "Access denied")

    @app.get("/b")
    async def b(request):
        abort(Response("teapot", status=418))

    client = TestClient(app)
    assert client.get("/a").json()["detail"] == "Access denied"
    assert (client.get("/b").status_code, client.get("/b").text) == (418, "teapot")


def test_failing_middleware_gives_500(app: Gobstopper) -> None:
    calls = []

    def broken(request, call_next):
        calls.append(1)
        raise ValueError("mw")

    app.add_middleware(broken)

    @app.get("/")
    async def index(request):
        return "x"

    assert TestClient(app).get("/").status_code == 500
    assert calls == [1]  # the reference called a raising sync middleware twice


@pytest.mark.parametrize(
    ("policy", "path", "status", "location"),
    [
        ("add_slash", "/docs", 308, "/docs/"),
        ("add_slash", "/docs/", 200, None),
        ("remove_slash", "/api/", 308, "/api"),
        ("strict", "/docs", 404, None),
    ],
)
def test_slash_policy(policy: str, path: str, status: int, location: str | None) -> None:
    app = Gobstopper("t", slash_policy=policy)

    @app.get("/docs/")
    async def docs(request):
        return "docs"

    @app.get("/api")
    async def api(request):
        return "api"

    @app.get("/evil.example/docs/")
    async def evil(request):
        return "evil"

    r = TestClient(app).get(path, follow_redirects=False)
    assert r.status_code == status
    if location is not None:
        assert r.headers["location"] == location
        assert not r.headers["location"].startswith("//")


def test_mount(app: Gobstopper) -> None:
    sub = Gobstopper("sub")

    @sub.get("/dashboard")
    async def dash(request):
        return {"path": request.path, "root": request.root_path, "app": request.app.name}

    @sub.error_handler(404)
    def sub404(request, error):
        return "sub 404", 404

    app.mount("/admin", sub)
    client = TestClient(app)
    assert client.get("/admin/dashboard").json() == {"path": "/dashboard", "root": "/admin", "app": "sub"}
    assert client.get("/admin/nope").text == "sub 404"
    assert client.get("/administrator").status_code == 404  # segment match, not string prefix


def test_lifecycle_startup_shutdown_and_drain(app: Gobstopper) -> None:
    events: list[str] = []

    @app.on_startup
    async def start():
        events.append("start")

    @app.on_startup
    def start_sync():
        events.append("start_sync")

    @app.on_shutdown
    async def stop():
        events.append("stop")

    @app.get("/slow")
    async def slow(request):
        await asyncio.sleep(0.2)
        return "done"

    with TestClient(app) as client:
        assert events == ["start", "start_sync"]
        assert client.get("/slow").text == "done"
    assert events == ["start", "start_sync", "stop"]


def test_startup_runs_lazily_without_lifespan_and_failed_startup_retries(app: Gobstopper) -> None:
    attempts = []

    @app.on_startup
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("not yet")

    @app.get("/")
    async def index(request):
        return "ok"

    client = TestClient(app)
    assert client.get("/").status_code == 500
    assert client.get("/").text == "ok"
    assert len(attempts) == 2


def test_shutdown_waits_for_in_flight_requests_then_refuses(app: Gobstopper) -> None:
    from gobstopper.testing import RSGITestClient  # noqa: F401 - imported to be sure it exists

    order: list[str] = []

    @app.get("/slow")
    async def slow(request):
        await asyncio.sleep(0.1)
        order.append("request done")
        return "ok"

    @app.on_shutdown
    def stop():
        order.append("shutdown hook")

    async def scenario():
        await app.startup()
        from gobstopper.http.request import Request

        class Src:
            def headers(self, scope):
                return {}

        request = Request("GET", "/slow", None, None, Src(), app, app.settings.http)
        in_flight = asyncio.ensure_future(app.handle(request))
        await asyncio.sleep(0.01)
        await app.shutdown(timeout=5)
        response = await in_flight
        refused = await app.handle(Request("GET", "/slow", None, None, Src(), app, app.settings.http))
        return response.status, refused.status

    assert asyncio.run(scenario()) == (200, 503)
    assert order == ["request done", "shutdown hook"]


def test_helpers(app: Gobstopper) -> None:
    @app.get("/j")
    async def j(request):
        return jsonify(a=1)

    @app.get("/m")
    async def m(request):
        return make_response({"id": 123}, 201, {"X-User-ID": "123"})

    @app.get("/r")
    async def r(request):
        return redirect("/x\r\nSet-Cookie: a=1", status=303)

    client = TestClient(app)
    assert client.get("/j").json() == {"a": 1}
    resp = client.get("/m")
    assert (resp.status_code, resp.headers["x-user-id"], resp.json()) == (201, "123", {"id": 123})
    resp = client.get("/r", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/x%0D%0ASet-Cookie:%20a=1"
    assert "set-cookie" not in resp.headers


class User(msgspec.Struct):
    name: str
    age: int = 0


def test_struct_parameter_is_decoded_after_middleware_and_limits(app: Gobstopper) -> None:
    seen = []

    async def mw(request, call_next):
        seen.append("mw")
        request.max_body_bytes = 50
        return await call_next(request)

    app.add_middleware(mw)

    @app.post("/users")
    async def create(request, user: User):
        return {"name": user.name, "age": user.age}

    client = TestClient(app)
    assert client.post("/users", json={"name": "a", "age": 3}).json() == {"name": "a", "age": 3}
    r = client.post("/users", json={"name": "a", "age": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert client.post("/users", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/users", json={"name": "x" * 100}).status_code == 413
    assert seen.count("mw") == 4


def test_dates_and_uuids_in_json(app: Gobstopper) -> None:
    @app.get("/")
    async def index(request):
        return {"d": datetime.date(2024, 1, 2)}

    assert TestClient(app).get("/").json() == {"d": "2024-01-02"}


def test_middleware_class_with_options(app: Gobstopper) -> None:
    class Tag:
        def __init__(self, value: str = "default") -> None:
            self.value = value

        async def __call__(self, request, call_next):
            response = await call_next(request)
            response.headers["X-Tag"] = self.value
            return response

    app.add_middleware(Tag, value="configured")

    @app.get("/")
    async def index(request):
        return "x"

    assert TestClient(app).get("/").headers["x-tag"] == "configured"
    with pytest.raises(TypeError):
        app.add_middleware(Tag(), value="nope")


def test_shutdown_closes_open_websockets_with_1001(app: Gobstopper) -> None:
    from gobstopper.websocket import WebSocketManager

    closed = []

    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()
        app.websocket_manager.add_connection("one", websocket)
        async for _ in websocket:
            pass
        closed.append(websocket.close_code)

    assert isinstance(app.websocket_manager, WebSocketManager)
    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        session.send_text("hello")
        client.portal.call(app.shutdown, 1)
        message = session.receive()
        assert message == {"type": "websocket.close", "code": 1001, "reason": "server shutting down"}
