"""One route per convertor, each answering what it received (issue 11, item 3).

``/<conv>/...`` routes give the converted value back as ``{"type": ..., "value": ...}`` (floats as ``repr``, so
their exact value is compared); ``/build`` answers ``url_for`` for one of them, or the ``ValueError`` it raised.
"""

from __future__ import annotations

import datetime
import json
import uuid

from gobstopper import Gobstopper

app = Gobstopper(__name__)


def _describe(value):
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, (uuid.UUID, datetime.date)):
        return {"type": type(value).__name__, "value": str(value)}
    return {"type": type(value).__name__, "value": value}


@app.get("/int/<int:v>")
async def int_route(request, v):
    return _describe(v)


@app.get("/float/<float:v>")
async def float_route(request, v):
    return _describe(v)


@app.get("/uuid/<uuid:v>")
async def uuid_route(request, v):
    return _describe(v)


@app.get("/date/<date:v>")
async def date_route(request, v):
    return _describe(v)


@app.get("/str/<v>/end")
async def str_route(request, v):
    return _describe(v)


@app.get("/path/<path:v>")
async def path_route(request, v):
    return _describe(v)


DECODERS = {
    "float": float,
    "int": int,
    "uuid": uuid.UUID,
    "date": datetime.date.fromisoformat,
    "datetime": datetime.datetime.fromisoformat,
}


@app.post("/build")
async def build(request):
    """``{"route": "float_route", "kind": "float", "value": "1e-22"}`` -> ``{"url": ...}`` or ``{"error": ...}``."""
    spec = json.loads(await request.get_data())
    value = spec["value"]
    kind = spec.get("kind")
    if kind in DECODERS:
        value = DECODERS[kind](value)
    elif kind == "bool":
        value = bool(value)
    try:
        return {"url": app.url_for(spec["route"], v=value)}
    except ValueError as exc:
        return {"error": str(exc).partition(":")[0]}


@app.get("/ann-float/<x>")
async def annotated_float(request, x: float):
    return _describe(x)


@app.get("/ann-int/<x>")
async def annotated_int(request, x: int):
    return _describe(x)
