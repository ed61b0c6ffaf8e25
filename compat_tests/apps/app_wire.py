"""Wire-correctness scenarios (issue 11): statuses that forbid a body, and URL parts joined with one slash."""

from __future__ import annotations

from gobstopper import Blueprint, Gobstopper, Response, StreamResponse

app = Gobstopper(__name__)


@app.get("/__compat_ready")
async def ready(request):
    return "ok"


@app.delete("/no-content/dict")
async def no_content_dict(request):
    return {"deleted": 1}, 204


@app.get("/no-content/response")
async def no_content_response(request):
    return Response("a body a 204 cannot have", status=204, headers={"x-kept": "yes"})


@app.get("/not-modified")
async def not_modified(request):
    return Response(b"stale bytes", status=304, headers={"etag": '"v1"'})


@app.get("/no-content/stream")
async def no_content_stream(request):
    async def chunks():
        yield "never sent"

    return StreamResponse(chunks(), status=204)


@app.get("/after")
async def after(request):
    return {"ok": True}


outer = Blueprint("outer", url_prefix="/a/")
inner = Blueprint("inner", url_prefix="/b/")


@outer.get("c/")
async def c(request):
    return {"url": request.app.url_for("outer.c")}


@inner.get("d")
async def d(request):
    return {"url": request.app.url_for("outer.inner.d")}


outer.register_blueprint(inner)
app.register_blueprint(outer)
app.register_blueprint(Blueprint("empty", url_prefix="/e"))


@app.get("no-leading-slash")
async def no_leading_slash(request):
    return {"url": request.app.url_for("no_leading_slash")}


sub = Gobstopper("sub")


@sub.get("/x")
async def sub_x(request):
    return {"root_path": request.root_path, "path": request.path}


app.mount("/m/", sub)
