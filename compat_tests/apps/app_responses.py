"""Return values, response classes, cookies, request attributes, bad input and lifecycle hooks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gobstopper import (
    FileResponse,
    Gobstopper,
    JSONResponse,
    Response,
    StreamResponse,
    jsonify,
    make_response,
    redirect,
    send_file,
    send_from_directory,
)

STATIC = Path(__file__).resolve().parent / "static"

app = Gobstopper(__name__, debug=False)

state: dict[str, int] = {"sync_startup": 0, "async_startup": 0, "shutdown": 0}


@app.on_startup
def startup_sync() -> None:
    state["sync_startup"] += 1


@app.on_startup
async def startup_async() -> None:
    state["async_startup"] += 1


@app.on_shutdown
async def shutdown() -> None:
    state["shutdown"] += 1
    marker = os.environ.get("COMPAT_SHUTDOWN_FILE")
    if marker:
        Path(marker).write_text("shutdown ran\n")


@app.get("/life/state")
async def life_state(request):
    return {"sync_started": state["sync_startup"] > 0, "async_started": state["async_startup"] > 0}


# -- return-value table ---------------------------------------------------------------------------------


@app.get("/ret/dict")
async def ret_dict(request):
    return {"a": 1, "nested": {"b": [1, 2]}}


@app.get("/ret/list")
async def ret_list(request):
    return [1, "two", None]


@app.get("/ret/str")
async def ret_str(request):
    return "<b>héllo ✓</b>"


@app.get("/ret/bytes")
def ret_bytes(request):
    return b"\x00\x01raw\xff"


@app.get("/ret/none")
async def ret_none(request):
    return None


@app.get("/ret/tuple-status")
async def ret_tuple_status(request):
    return {"created": True}, 201


@app.get("/ret/tuple-status-headers")
async def ret_tuple_status_headers(request):
    return "accepted", 202, {"X-T": "1"}


@app.get("/ret/tuple-headers")
async def ret_tuple_headers(request):
    return "with headers", {"X-T": "2"}


@app.get("/ret/response")
async def ret_response(request):
    return Response("plain", status=201, headers={"X-R": "1"}, content_type="text/plain; charset=utf-8")


@app.get("/ret/json-response")
async def ret_json_response(request):
    return JSONResponse({"k": "v", "u": "é"}, status=202)


@app.get("/ret/jsonify")
async def ret_jsonify(request):
    return jsonify(a=1, b=[1, 2])


@app.get("/ret/make-response")
async def ret_make_response(request):
    return make_response("made", 203, {"X-M": "1"})


@app.get("/ret/redirect")
async def ret_redirect(request):
    return redirect("/target")


@app.get("/ret/redirect-301")
async def ret_redirect_301(request):
    return redirect("/target?a=1", status=301)


@app.get("/ret/header-mutation")
async def ret_header_mutation(request):
    response = Response("mutated")
    response.headers["X-Mutated"] = "yes"
    response.headers["x-mutated"] = "replaced"  # case-insensitive: replaces, not adds
    return response


# -- streams and files ------------------------------------------------------------------------------------


async def _gen():
    yield "a"
    yield b"b"
    yield "c✓"


@app.get("/stream/gen")
async def stream_gen(request):
    return StreamResponse(_gen(), content_type="text/plain; charset=utf-8")


@app.get("/stream/callable")
async def stream_callable(request):
    return StreamResponse(_gen, headers={"X-S": "1"}, content_type="text/plain; charset=utf-8")


@app.get("/file/plain")
async def file_plain(request):
    return FileResponse(str(STATIC / "hello.txt"))


@app.get("/file/attachment")
async def file_attachment(request):
    return FileResponse(str(STATIC / "hello.txt"), filename="report.txt", headers={"X-F": "1"})


@app.get("/file/missing")
async def file_missing(request):
    return FileResponse(str(STATIC / "missing.txt"))


@app.get("/file/send-file")
async def file_send_file(request):
    return send_file(str(STATIC / "hello.txt"))


@app.get("/file/dir/<path:name>")
async def file_from_dir(request, name):
    return send_from_directory(str(STATIC), name)


# -- cookies ------------------------------------------------------------------------------------------------


@app.get("/cookies/set")
async def cookies_set(request):
    response = Response("cookies", content_type="text/plain; charset=utf-8")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2", max_age=60, path="/x", samesite="Strict", httponly=False)
    response.delete_cookie("c")
    return response


@app.get("/cookies/echo")
async def cookies_echo(request):
    return {"cookies": request.cookies}


# -- request attributes ---------------------------------------------------------------------------------------


@app.get("/req/info/<int:n>")
async def req_info(request, n):
    return {
        "method": request.method,
        "path": request.path,
        "query_string": request.query_string,
        "args": request.args,
        "dup_list": request.headers.getlist("x-dup"),
        "dup_get": request.headers.get("X-Dup"),
        "missing": request.headers.get("x-missing", "default"),
        "client_ip": request.client_ip,
        "scheme": request.scheme,
        "host": request.host,
        "host_url": request.host_url,
        "base_url": request.base_url,
        "url": request.url,
        "is_json": request.is_json,
        "view_args": request.view_args,
        "endpoint": request.endpoint,
    }


@app.post("/req/body")
async def req_body(request):
    data = await request.get_data()
    parsed = await request.get_json() if request.is_json else None
    return {"len": len(data), "sha256": hashlib.sha256(data).hexdigest(), "json": parsed, "is_json": request.is_json}


@app.post("/req/json")
async def req_json(request):
    return {"got": await request.json()}


# -- bad input ------------------------------------------------------------------------------------------------


@app.get("/bad/redirect")
async def bad_redirect(request):
    return redirect(request.args["to"][0])


@app.get("/bad/header")
async def bad_header(request):
    response = Response("never sent")
    response.headers["X-Echo"] = request.args["v"][0]
    return response


@app.get("/bad/boom")
async def bad_boom(request):
    raise RuntimeError("secret-detail-do-not-leak")
