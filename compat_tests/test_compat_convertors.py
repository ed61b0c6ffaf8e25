"""Every convertor's values are defined, finite and round-trip through ``url_for``, on every path and with both
routers (issue 11, item 3; the rules are in ``gobstopper/core/_convertors.py``).

``/float/1`` followed by 400 zeros and ``.0`` used to answer 200 with ``x = inf``; now it is the documented 400.
Each round trip asks the server for ``url_for(value)``, requests that URL as a client would (raw, exactly as
written), and checks the handler got the very same value.
"""

from __future__ import annotations

import json
import sys
import uuid

import pytest

from compat_tests.harness import Result, Target, assert_same

APP = "convertors:app"


def send(target: Target, url: str) -> Result:
    data = f"GET {url} HTTP/1.1\r\nhost: testserver\r\nuser-agent: compat-tests\r\nconnection: close\r\n\r\n"
    return target.raw(data.encode("ascii"))


def build(target: Target, route: str, value: object, kind: str | None = None) -> dict[str, str]:
    r = target.post("/build", content=json.dumps({"route": route, "value": value, "kind": kind}))
    assert r.status == 200, r
    return r.json()


ROUND_TRIPS = [
    ("float_route", "float", "0.1", "/float/0.1"),
    ("float_route", "float", "1e-22", "/float/0.0000000000000000000001"),  # Starlette wrote "/float/0"
    ("float_route", "float", "5e-324", "/float/0." + "0" * 323 + "5"),  # the smallest float
    ("float_route", "float", repr(sys.float_info.max), "/float/17976931348623157" + "0" * 292),
    ("float_route", "float", "2.0", "/float/2"),
    ("float_route", "float", "-0.0", "/float/0"),
    ("int_route", "int", "1" * 4300, "/int/" + "1" * 4300),
    ("int_route", "int", "0", "/int/0"),
    ("uuid_route", "uuid", "{12345678-1234-5678-1234-567812345678}", "/uuid/12345678-1234-5678-1234-567812345678"),
    ("date_route", "date", "0001-01-01", "/date/0001-01-01"),
    ("str_route", None, "a b?#%é\n;", "/str/a%20b%3F%23%25%C3%A9%0A;/end"),
    ("str_route", None, "...", "/str/.../end"),
    ("path_route", None, "a b/c?d#e%f/日本/\n", "/path/a%20b/c%3Fd%23e%25f/%E6%97%A5%E6%9C%AC/%0A"),
    ("path_route", None, "", "/path/"),
    ("path_route", None, "a//b", "/path/a//b"),
]


@pytest.mark.parametrize(
    ("route", "kind", "value", "url"), ROUND_TRIPS, ids=[f"{r[0]}-{r[3][:30]}" for r in ROUND_TRIPS]
)
def test_url_for_round_trips(target: Target, ref: Target, route: str, kind: str | None, value: str, url: str) -> None:
    assert build(target, route, value, kind) == {"url": url}
    r = send(target, url)
    assert r.status == 200, r
    got = r.json()
    if kind == "float":
        assert got == {"type": "float", "value": repr(abs(float(value)))}, got
    elif kind == "int":
        assert got == {"type": "int", "value": str(int(value))}, got
    elif kind == "uuid":
        assert got == {"type": "UUID", "value": str(uuid.UUID(value))}, got
    elif kind == "date":
        assert got == {"type": "date", "value": value}, got
    else:
        assert got == {"type": "str", "value": value}, got
    assert_same(r, send(ref, url))


@pytest.mark.parametrize(
    "url",
    [
        "/float/1" + "0" * 400 + ".0",  # the case: was 200 with inf
        "/float/" + "9" * 309,
        "/int/" + "1" * 4301,
        "/int/" + "0" * 4301,
        "/date/2024-02-30",
        "/date/0000-01-01",
    ],
    ids=["float-1e400", "float-309-nines", "int-4301-digits", "int-4301-zeros", "date-feb-30", "date-year-0"],
)
def test_values_a_convertor_cannot_represent_are_400(target: Target, ref: Target, url: str) -> None:
    r = send(target, url)
    assert r.status == 400, r
    assert r.header("content-type") == "application/problem+json"
    assert "Invalid value for path parameter 'v'" in r.json()["detail"], r
    assert_same(r, send(ref, url))


@pytest.mark.parametrize(
    "url",
    ["/int/-1", "/int/1.5", "/int/%D9%A1", "/float/1e5", "/float/1.", "/float/-1", "/uuid/123", "/date/2024-1-01"],
)
def test_values_without_the_shape_are_404(target: Target, ref: Target, url: str) -> None:
    r = send(target, url)
    assert r.status == 404, r
    assert_same(r, send(ref, url))


@pytest.mark.parametrize(
    ("route", "kind", "value"),
    [
        ("float_route", "float", "inf"),
        ("float_route", "float", "nan"),
        ("float_route", "float", "-1.5"),
        ("float_route", "bool", True),
        ("int_route", "float", "1.5"),  # never silently 1
        ("int_route", "int", "-1"),
        ("int_route", "bool", True),
        ("uuid_route", None, "not-a-uuid"),
        ("date_route", "datetime", "2024-05-01T10:00:00"),  # would come back as a date
        ("date_route", None, "2024-02-30"),
        ("str_route", None, ""),
        ("str_route", None, "a/b"),
        ("str_route", None, ".."),  # clients remove dot segments: no URL can carry it
        ("path_route", None, "a/../b"),
    ],
)
def test_url_for_refuses_what_would_not_round_trip(target: Target, route: str, kind: str | None, value: object) -> None:
    assert build(target, route, value, kind) == {"error": f"url_for({route!r})"}


@pytest.mark.parametrize(
    ("url", "status", "value"),
    [
        ("/ann-float/1e5", 200, {"type": "float", "value": "100000.0"}),
        ("/ann-float/-0.5", 200, {"type": "float", "value": "-0.5"}),
        ("/ann-float/inf", 400, None),  # float() takes these; a path parameter never holds them
        ("/ann-float/nan", 400, None),
        ("/ann-float/1e400", 400, None),
        ("/ann-float/1_0", 400, None),
        ("/ann-float/%201", 400, None),
        ("/ann-int/-5", 200, {"type": "int", "value": "-5"}),
        ("/ann-int/%D9%A1%D9%A2", 400, None),  # Arabic-Indic digits: int() takes them
        ("/ann-int/1_000", 400, None),
        ("/ann-int/" + "1" * 4301, 400, None),
    ],
)
def test_annotation_casts_follow_the_same_rules(
    target: Target, ref: Target, url: str, status: int, value: object
) -> None:
    """A ``str`` parameter annotated ``float``/``int`` is cast as strictly as the convertors (finite, ASCII)."""
    r = send(target, url)
    assert r.status == status, r
    if value is not None:
        assert r.json() == value
    assert_same(r, send(ref, url))
