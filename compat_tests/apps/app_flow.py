"""Blueprints, hooks, error handlers, abort/HTTPException and middleware ordering."""

from __future__ import annotations

from gobstopper import Blueprint, Gobstopper, HTTPException, Response, abort

app = Gobstopper(__name__, debug=False)


# -- middleware: higher priority is outer -------------------------------------------------------------------


def make_mw(name: str):
    async def mw(request, call_next):
        if not request.path.startswith("/mw"):
            return await call_next(request)
        request.mw_trail = [*getattr(request, "mw_trail", []), name]
        if name == "mid" and request.path == "/mw/short":
            return Response("short by mid", status=401, content_type="text/plain; charset=utf-8")
        response = await call_next(request)
        response.headers["x-mw-out"] = ",".join(filter(None, [response.headers.get("x-mw-out"), name]))
        return response

    mw.__name__ = f"mw_{name}"
    return mw


app.add_middleware(make_mw("low"), priority=1)
app.add_middleware(make_mw("high"), priority=10)
app.add_middleware(make_mw("mid"), priority=5)


@app.get("/mw")
async def mw_route(request):
    return {"trail": request.mw_trail}


@app.get("/mw/short")
async def mw_short(request):
    return "unreachable"


# -- hooks ------------------------------------------------------------------------------------------------------


@app.before_request
def before_sync(request):
    if request.path.startswith("/hooks"):
        request.hook_trail = ["before_sync"]


@app.before_request
async def before_async(request):
    if request.path.startswith("/hooks"):
        request.hook_trail.append("before_async")
        if request.path == "/hooks/short":
            return Response("short-circuited", status=403, content_type="text/plain; charset=utf-8")
    return None


@app.after_request
def after_sync(request, response):
    if request.path.startswith("/hooks"):
        response.headers["x-after-sync"] = "1"
    return response


@app.after_request
async def after_async(request, response):
    if request.path.startswith("/hooks"):
        response.headers["x-after-async"] = "1"
    return None  # None keeps the response


@app.get("/hooks/run")
async def hooks_run(request):
    return {"trail": request.hook_trail}


@app.get("/hooks/short")
async def hooks_short(request):
    return "unreachable"


# -- error handlers -----------------------------------------------------------------------------------------


class TeapotError(Exception):
    pass


@app.error_handler(404)
async def custom_404(request, error):
    return {"error": "custom 404", "path": request.path}, 404


@app.error_handler(500)
def custom_500(request, error):
    return {"error": "custom 500"}, 500


@app.error_handler(ValueError)
async def on_value_error(request, error):
    return {"error": "value", "msg": str(error)}, 422


@app.error_handler(TeapotError)
def on_teapot(request, error):
    return Response("teapot", status=418, content_type="text/plain; charset=utf-8")


@app.get("/errors/value")
async def errors_value(request):
    raise ValueError("bad value")


@app.get("/errors/value-subclass")
async def errors_value_subclass(request):
    raise UnicodeError("a ValueError subclass")


@app.get("/errors/teapot")
def errors_teapot(request):
    raise TeapotError()


@app.get("/errors/boom")
async def errors_boom(request):
    raise RuntimeError("boom")


@app.get("/errors/abort")
async def errors_abort(request):
    abort(409, "already exists")


@app.get("/errors/abort404")
async def errors_abort404(request):
    abort(404, "no such thing")


@app.get("/errors/httpexc")
async def errors_httpexc(request):
    raise HTTPException(429, "slow down", headers={"Retry-After": "3"})


# -- blueprints ---------------------------------------------------------------------------------------------


def trail(request) -> list[str]:
    return getattr(request, "bp_trail", [])


api = Blueprint("api", url_prefix="/api")
v1 = Blueprint("v1", url_prefix="/v1")
other = Blueprint("other", url_prefix="/ignored")


@api.before_request
def api_before(request):
    request.bp_trail = [*trail(request), "api_before"]


@api.after_request
def api_after(request, response):
    response.headers["x-api-after"] = "1"
    return response


async def api_mw(request, call_next):
    response = await call_next(request)
    response.headers["x-api-mw"] = "1"
    return response


api.add_middleware(api_mw, priority=0)


@v1.before_request
async def v1_before(request):
    request.bp_trail = [*trail(request), "v1_before"]


@api.get("/ping")
async def ping(request):
    return {"pong": True, "trail": trail(request)}


@v1.get("/users/<int:user_id>")
async def v1_user(request, user_id):
    return {"user_id": user_id, "trail": trail(request), "endpoint": request.endpoint}


@other.get("/x")
async def other_x(request):
    return {"other": True, "trail": trail(request)}


api.register_blueprint(v1)
app.register_blueprint(api)
app.register_blueprint(other, url_prefix="/other")  # overrides the blueprint's own prefix


@app.get("/bp-urls")
async def bp_urls(request):
    return {"ping": app.url_for("api.ping"), "other": app.url_for("other.other_x")}


@app.get("/bp-urls-nested")
async def bp_urls_nested(request):
    return {"v1_user": app.url_for("api.v1.v1_user", user_id=3)}
