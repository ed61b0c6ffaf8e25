"""The reference's examples (app-core guide and API reference) about routing, hooks, error handlers,
middleware, blueprints and url_for, as written there (only undefined helpers are stubbed here)."""

from __future__ import annotations

import time

import pytest

from gobstopper import Gobstopper, HTTPException, JSONResponse, Request, Response
from gobstopper.core.blueprint import Blueprint
from gobstopper.http import redirect
from gobstopper.testing import TestClient


@pytest.fixture
def app() -> Gobstopper:
    return Gobstopper(name=__name__)


def test_route_registration_and_path_parameters(app: Gobstopper) -> None:
    @app.get("/")
    async def index(request):
        return {"message": "Hello World"}

    @app.post("/users")
    async def create_user(request):
        data = await request.json()
        return {"user": data}

    @app.put("/users/<user_id>")
    async def update_user(request, user_id):
        data = await request.json()  # noqa: F841 - as written in the guide
        return {"user_id": user_id, "updated": True}

    @app.delete("/users/<user_id>")
    async def delete_user(request, user_id):
        return {"deleted": user_id}

    @app.get("/users/<user_id>/posts/<post_id>")
    async def get_user_post(request, user_id, post_id):
        return {"user_id": user_id, "post_id": post_id}

    @app.get("/api/v<version>/users/<user_id>")
    async def get_user_versioned(request, version, user_id):
        return {"version": version, "user_id": user_id}

    client = TestClient(app)
    assert client.get("/").json() == {"message": "Hello World"}
    assert client.post("/users", json={"n": 1}).json() == {"user": {"n": 1}}
    assert client.put("/users/7", json={}).json() == {"user_id": "7", "updated": True}
    assert client.delete("/users/7").json() == {"deleted": "7"}
    assert client.get("/users/1/posts/2").json() == {"user_id": "1", "post_id": "2"}
    assert client.get("/api/v2/users/9").json() == {"version": "2", "user_id": "9"}


def test_generic_route_with_several_methods(app: Gobstopper) -> None:
    async def get_resource():
        return {"action": "retrieve"}

    async def create_resource(data):
        return {"action": "create", "data": data}

    async def update_resource(data):
        return {"action": "update", "data": data}

    @app.route("/api/resource", methods=["GET", "POST", "PUT"])
    async def handle_resource(request):
        if request.method == "GET":
            return await get_resource()
        elif request.method == "POST":
            return await create_resource(await request.json())
        elif request.method == "PUT":
            return await update_resource(await request.json())

    client = TestClient(app)
    assert client.get("/api/resource").json() == {"action": "retrieve"}
    assert client.post("/api/resource", json=1).json() == {"action": "create", "data": 1}
    assert client.put("/api/resource", json=2).json() == {"action": "update", "data": 2}


def test_url_for_redirects_and_blueprints(app: Gobstopper) -> None:
    user_data = {"id": 1}

    def save_user():
        return 123

    @app.get("/users/<int:id>", name="user_detail")
    async def get_user(request, id):
        return {"user": user_data}

    @app.get("/dashboard")
    async def dashboard(request):
        return {"dashboard": True}

    @app.post("/users")
    async def create_user(request):
        new_id = save_user()
        return redirect(app.url_for("user_detail", id=new_id), status=303)

    admin = Blueprint("admin", __name__)

    @admin.get("/login")
    async def login(request):
        return "login page"

    @admin.get("/dashboard")
    async def admin_dashboard(request):
        return "admin dashboard"

    app.register_blueprint(admin, url_prefix="/admin")

    @app.get("/")
    async def index(request):
        return redirect(app.url_for("admin.login"))

    assert app.url_for("user_detail", id=123) == "/users/123"
    assert app.url_for("dashboard") == "/dashboard"
    assert app.url_for("admin.login") == "/admin/login"
    assert app.url_for("admin.admin_dashboard") == "/admin/dashboard"
    client = TestClient(app, follow_redirects=False)
    r = client.post("/users")
    assert (r.status_code, r.headers["location"]) == (303, "/users/123")
    r = client.get("/")
    assert (r.status_code, r.headers["location"]) == (302, "/admin/login")
    for status in (301, 307, 308):
        assert redirect("/new", status=status).status == status


def test_api_reference_url_for_examples(app: Gobstopper) -> None:
    @app.get("/posts/<int:year>/<int:month>")
    async def posts_archive(request):
        return {"posts": ...}

    assert app.url_for("posts_archive", year=2024, month=12) == "/posts/2024/12"


def test_mount_examples(app: Gobstopper) -> None:
    admin_app = Gobstopper("admin")

    @admin_app.get("/dashboard")
    async def admin_dashboard(request):
        return {"admin": True}

    app.mount("/admin", admin_app)
    api_v1 = Gobstopper("api_v1")
    api_v2 = Gobstopper("api_v2")
    app.mount("/api/v1", api_v1)
    app.mount("/api/v2", api_v2)
    debug_app = Gobstopper("debug", debug=True)

    @debug_app.get("/info")
    async def debug_info(request):
        return {"debug": True}

    app.mount("/_debug", debug_app)
    client = TestClient(app)
    assert client.get("/admin/dashboard").json() == {"admin": True}
    assert client.get("/_debug/info").json() == {"debug": True}


def test_register_blueprint_examples(app: Gobstopper) -> None:
    api = Blueprint("api", url_prefix="/api")

    @api.get("/users")
    async def list_users(request):
        return {"users": ["ada"]}  # the reference writes [...] as a placeholder

    app.register_blueprint(api)
    admin_bp = Blueprint("admin", url_prefix="/admin")

    @admin_bp.get("/home")
    async def home(request):
        return "admin home"

    app.register_blueprint(admin_bp, url_prefix="/dashboard")

    async def user_handler(request):
        return "v1 users"

    outer = Blueprint("outer", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")
    v1.get("/users")(user_handler)
    outer.register_blueprint(v1)
    nested_app = Gobstopper("nested")
    nested_app.register_blueprint(outer)

    async def auth_middleware(request, next_handler):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)
        request.user = "ada"
        return await next_handler(request)

    auth_bp = Blueprint("auth")
    auth_bp.add_middleware(auth_middleware, priority=100)

    @auth_bp.get("/profile")
    async def profile(request):
        return {"user": request.user}

    app.register_blueprint(auth_bp, url_prefix="/secure")
    client = TestClient(app)
    assert client.get("/api/users").status_code == 200
    assert client.get("/dashboard/home").text == "admin home"
    assert client.get("/admin/home").status_code == 404
    assert TestClient(nested_app).get("/api/v1/users").text == "v1 users"
    assert client.get("/secure/profile").status_code == 401
    assert client.get("/secure/profile", headers={"authorization": "x"}).json() == {"user": "ada"}


def test_middleware_examples(app: Gobstopper) -> None:
    log = []
    app.logger.info = log.append  # type: ignore[method-assign]

    async def logging_middleware(request, next_handler):
        start_time = time.time()
        response = await next_handler(request)
        duration = time.time() - start_time
        app.logger.info(f"Request {request.path} took {duration:.3f}s")
        return response

    async def auth_middleware(request, next_handler):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)
        return await next_handler(request)

    app.add_middleware(auth_middleware, priority=100)
    app.add_middleware(logging_middleware, priority=50)

    @app.get("/x")
    async def x(request):
        return "x"

    client = TestClient(app)
    assert client.get("/x").status_code == 401
    assert log == []  # auth (100) ran first and short-circuited
    assert client.get("/x", headers={"authorization": "t"}).text == "x"
    assert log[0].startswith("Request /x took")


def test_hook_examples(app: Gobstopper) -> None:
    async def verify_token(token):
        return {"token": token}

    @app.before_request
    async def authenticate_user(request):
        token = request.headers.get("Authorization")
        if token:
            user = await verify_token(token)
            request.user = user

    @app.before_request
    def add_request_timestamp(request):
        request.start_time = time.time()

    @app.after_request
    async def add_security_headers(request, response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.after_request
    def log_request_duration(request, response):
        if hasattr(request, "start_time"):
            duration = time.time() - request.start_time
            app.logger.info(f"Request completed in {duration:.3f}s")
        return response

    @app.before_request
    async def require_auth(request):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)

    @app.get("/me")
    async def me(request: Request):
        return {"user": request.user}

    client = TestClient(app)
    r = client.get("/me")
    assert (r.status_code, "x-frame-options" in r.headers) == (401, False)  # short-circuit skips after hooks
    r = client.get("/me", headers={"Authorization": "abc"})
    assert r.json() == {"user": {"token": "abc"}}
    assert (r.headers["x-content-type-options"], r.headers["x-frame-options"]) == ("nosniff", "DENY")


def test_error_handler_examples(app: Gobstopper) -> None:
    class DatabaseError(Exception):
        pass

    users = {1: {"name": "Ada"}}

    async def get_user_by_id(user_id):
        if user_id == 13:
            raise DatabaseError("down")
        return users.get(user_id)

    @app.error_handler(500)
    async def internal_error(request, error):
        if app.config.get("DEBUG"):
            return JSONResponse({"error": str(error)}, status=500)
        return JSONResponse({"error": "Internal server error"}, status=500)

    @app.error_handler(403)
    async def forbidden(request, error):
        return JSONResponse({"error": "Access denied"}, status=403)

    @app.error_handler(429)
    async def rate_limited(request, error):
        return JSONResponse(
            {"error": "Too many requests", "retry_after": 60}, status=429, headers={"Retry-After": "60"}
        )

    @app.get("/users/<user_id>")
    async def get_user(request, user_id):
        try:
            user_id = int(user_id)
            user = await get_user_by_id(user_id)
            if not user:
                raise HTTPException(404, "User not found")
            return {"user": user}
        except ValueError:
            raise HTTPException(400, "Invalid user ID format") from None
        except DatabaseError as e:
            app.logger.error(f"Database error: {e}")
            raise HTTPException(500, "Database error") from None

    @app.get("/admin")
    async def admin(request):
        raise HTTPException(403)

    @app.get("/busy")
    async def busy(request):
        raise HTTPException(429)

    client = TestClient(app)
    assert client.get("/users/1").json() == {"user": {"name": "Ada"}}
    assert client.get("/users/2").json()["detail"] == "User not found"
    assert client.get("/users/x").status_code == 400
    r = client.get("/users/13")
    assert (r.status_code, r.json()) == (500, {"error": "Internal server error"})
    assert client.get("/admin").json() == {"error": "Access denied"}
    assert client.get("/busy").headers["retry-after"] == "60"


def test_startup_examples_and_rust_detection(app: Gobstopper) -> None:
    import signal

    state = {}

    async def load_config_from_file(name):
        return {"DEBUG": False, "file": name}

    @app.on_startup
    async def load_configuration():
        app.config = await load_config_from_file("config.yaml")

    @app.on_startup
    def register_signal_handlers():
        state["handler"] = signal.getsignal(signal.SIGTERM)

    @app.get("/config")
    async def config(request):
        return app.config

    with TestClient(app) as client:
        assert client.get("/config").json() == {"DEBUG": False, "file": "config.yaml"}
    assert "handler" in state
    assert isinstance(app.rust_router_available, bool)
