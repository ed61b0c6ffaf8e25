"""Routing scenarios: specificity, convertors, methods, HEAD/OPTIONS, url_for, mount (slash_policy strict)."""

from __future__ import annotations

import datetime
import uuid

from gobstopper import Gobstopper, Response

app = Gobstopper(__name__, debug=False, slash_policy="strict")


@app.get("/")
async def index(request):
    return {"page": "index"}


# Registered from least to most specific on purpose: matching must not follow registration order.
@app.get("/items/<path:rest>")
async def items_path(request, rest):
    return {"route": "path", "rest": rest}


@app.get("/items/<name>")
async def items_str(request, name):
    return {"route": "str", "name": name}


@app.get("/items/<int:item_id>")
async def items_int(request, item_id):
    return {"route": "int", "item_id": item_id}


@app.get("/items/new")
def items_new(request):  # a sync handler
    return {"route": "static"}


@app.get("/conv/int/<int:v>")
async def conv_int(request, v: int):
    return {"type": type(v).__name__, "value": v}


@app.get("/conv/float/<float:v>")
async def conv_float(request, v: float):
    return {"type": type(v).__name__, "value": v}


@app.get("/conv/uuid/<uuid:v>")
async def conv_uuid(request, v: uuid.UUID):
    return {"type": type(v).__name__, "value": str(v)}


@app.get("/conv/date/<date:v>")
async def conv_date(request, v: datetime.date):
    return {"type": type(v).__name__, "value": v.isoformat()}


@app.get("/conv/path/<path:v>")
async def conv_path(request, v: str):
    return {"type": type(v).__name__, "value": v}


@app.get("/conv/str/<v>")
async def conv_str(request, v: str):
    return {"type": type(v).__name__, "value": v}


@app.get("/multi/<a>/<int:b>/tail")
async def multi(request, a, b):
    return {"a": a, "b": b}


@app.route("/methods", methods=["GET", "POST"])
async def methods(request):
    return {"method": request.method}


@app.put("/methods")
async def methods_put(request):
    return {"method": "PUT"}


@app.delete("/methods/delete-only")
async def delete_only(request):
    return None


@app.patch("/methods/patch-only")
async def patch_only(request):
    return {"patched": True}


@app.get("/head-check")
async def head_check(request):
    return Response("hello head", headers={"X-Head": "1"}, content_type="text/plain; charset=utf-8")


@app.get("/explicit-options")
async def explicit_options_get(request):
    return "get"


@app.options("/explicit-options")
async def explicit_options(request):
    return Response("", status=204, headers={"Allow": "GET, OPTIONS", "X-Custom-Options": "1"})


@app.get("/users/<int:user_id>", name="user_detail")
async def user_detail(request, user_id):
    return {"user_id": user_id}


@app.get("/files/<path:rest>")
async def files(request, rest):
    return {"rest": rest}


@app.get("/urls")
async def urls(request):
    return {
        "user": app.url_for("user_detail", user_id=42),
        "index": app.url_for("index"),
        "items_int": app.url_for("items_int", item_id=7),
        "files": app.url_for("files", rest="a/b.txt"),
    }


@app.get("/echo-path/<path:rest>")
async def echo_path(request, rest):
    return {"path": request.path, "rest": rest, "view_args": {k: str(v) for k, v in request.view_args.items()}}


# A mounted sub-application sees paths relative to its mount point.
sub = Gobstopper("sub")


@sub.get("/")
async def sub_root(request):
    return {"sub": "root", "path": request.path}


@sub.get("/hello/<int:n>")
async def sub_hello(request, n):
    return {"sub": "hello", "n": n, "path": request.path}


app.mount("/sub", sub)
