"""Convertors round-trip through ``url_for`` (issue 11, item 3): for any value a route can give a handler,
``url_for`` writes a URL that gives it back exactly, through a real HTTP client (httpx), with both routers."""

from __future__ import annotations

import datetime
import math
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gobstopper import Gobstopper
from gobstopper._native import RustRouter
from gobstopper._native.pattern import FLOAT_NOT_FINITE, INT_TOO_LONG, MAX_INT_DIGITS, get_convertor
from gobstopper.testing import TestClient


def make_app(native: bool) -> Gobstopper:
    app = Gobstopper(__name__)
    if not native:
        app._dispatcher._use_python_router()
    assert app.rust_router_available is native
    for conv in ("int", "float", "uuid", "date", "path"):
        app.get(f"/{conv}/<{conv}:v>", name=conv)(lambda request, v: {"repr": repr(v)})
    app.get("/str/<v>/end", name="str")(lambda request, v: {"repr": repr(v)})
    return app


# The Rust router when this process has it (GOBSTOPPER_NATIVE=0 runs leave it out), always the Python one.
ROUTERS = [pytest.param(False, id="python")] + ([pytest.param(True, id="rust")] if RustRouter is not None else [])


@pytest.fixture(scope="module", params=ROUTERS)
def client(request: pytest.FixtureRequest) -> Any:
    app = make_app(request.param)
    with TestClient(app) as c:
        c.app_under_test = app
        yield c


segment_text = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1).filter(
    lambda s: s not in (".", "..")
)
VALUES = {
    "int": st.integers(min_value=0, max_value=10**80),
    "float": st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    "uuid": st.uuids(),
    "date": st.dates(),
    "str": segment_text,
    "path": st.lists(segment_text | st.just(""), max_size=4).map("/".join),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("conv", list(VALUES))
def test_url_for_round_trips(client: Any, conv: str, data: st.DataObject) -> None:
    value = data.draw(VALUES[conv])
    url = client.app_under_test.url_for(conv, v=value)
    r = client.get(url)
    assert r.status_code == 200, (url, r.text)
    expected = abs(value) if isinstance(value, float) else value  # -0.0 is written "0"
    assert r.json() == {"repr": repr(expected)}, url


def test_messages_and_limits() -> None:
    with pytest.raises(ValueError, match=INT_TOO_LONG):
        get_convertor("int").convert("1" * (MAX_INT_DIGITS + 1))
    assert get_convertor("int").convert("0" * MAX_INT_DIGITS) == 0
    with pytest.raises(ValueError, match=FLOAT_NOT_FINITE):
        get_convertor("float").convert("1" + "0" * 400)
    assert math.isfinite(get_convertor("float").convert("9" * 308))
    assert get_convertor("float").to_string(1e-22) == "0.0000000000000000000001"
    assert get_convertor("float").to_string(2.5) == "2.5" and get_convertor("float").to_string(3) == "3"
    assert get_convertor("uuid").to_string(str(uuid.UUID(int=5)).replace("-", "")) == str(uuid.UUID(int=5))
    assert get_convertor("date").to_string("2024-05-01") == "2024-05-01"
    with pytest.raises(ValueError):
        get_convertor("date").to_string(datetime.datetime(2024, 5, 1))


@pytest.mark.parametrize("value", ["inf", "-Infinity", "nan", "NaN"])
@pytest.mark.parametrize("source", ["query", "form"])
def test_query_and_form_floats_are_finite_too(value: str, source: str) -> None:
    """The same kind in ``bind``/``form(model)``: msgspec reads "nan"/"inf" text as floats; 422 here."""

    class Point(msgspec.Struct):
        x: float
        ys: list[float] = []

    app = Gobstopper(__name__)

    @app.route("/p", methods=["GET", "POST"])
    async def point(request):
        return msgspec.to_builtins(await request.bind(Point, source=source))

    client = TestClient(app)
    send = (lambda q: client.get("/p", params=q)) if source == "query" else (lambda q: client.post("/p", data=q))
    assert send({"x": "1.5"}).json() == {"x": 1.5, "ys": []}
    r = send({"x": value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "$.x", "msg": "Expected a finite number"}]
    r = send({"x": "1", "ys": ["2", value]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "$.ys[1]", r.text
