"""Middleware order, hooks, error handlers, abort and blueprints over every path."""

from __future__ import annotations

import pytest

from compat_tests.harness import Target, assert_same

APP = "app_flow:app"
PROBLEM = "application/problem+json"


def test_middleware_priority_order(target: Target, ref: Target) -> None:
    r = target.get("/mw")
    assert r.status == 200, r
    assert r.json() == {"trail": ["high", "mid", "low"]}  # higher priority = outer = first in
    assert r.header("x-mw-out") == "low,mid,high"  # and last out
    assert_same(r, ref.get("/mw"))


def test_middleware_short_circuit(target: Target, ref: Target) -> None:
    r = target.get("/mw/short")
    assert (r.status, r.body) == (401, b"short by mid"), r
    assert r.header("x-mw-out") == "high"  # only the middleware outside "mid" saw the response
    assert_same(r, ref.get("/mw/short"))


def test_app_middleware_wraps_404(target: Target, ref: Target) -> None:
    # docs/design.md §3: 404/405/308/400 go through app-level middleware (so CORS preflight works).
    r = target.get("/mw/nope")
    assert r.status == 404, r
    assert r.header("x-mw-out") == "low,mid,high", r
    assert_same(r, ref.get("/mw/nope"))


def test_app_middleware_wraps_405(target: Target, ref: Target) -> None:
    r = target.post("/mw")
    assert r.status == 405, r
    assert r.header("x-mw-out") == "low,mid,high", r
    assert_same(r, ref.post("/mw"))


def test_before_and_after_hooks_sync_and_async(target: Target, ref: Target) -> None:
    r = target.get("/hooks/run")
    assert r.status == 200, r
    assert r.json() == {"trail": ["before_sync", "before_async"]}
    assert r.header("x-after-sync") == "1" and r.header("x-after-async") == "1", r
    assert_same(r, ref.get("/hooks/run"))


def test_before_request_short_circuit(target: Target, ref: Target) -> None:
    r = target.get("/hooks/short")
    assert (r.status, r.body) == (403, b"short-circuited"), r
    assert_same(r, ref.get("/hooks/short"))


@pytest.mark.parametrize(
    ("url", "status", "body"),
    [
        ("/nope", 404, {"error": "custom 404", "path": "/nope"}),
        ("/errors/abort404", 404, {"error": "custom 404", "path": "/errors/abort404"}),
        ("/errors/boom", 500, {"error": "custom 500"}),
        ("/errors/value", 422, {"error": "value", "msg": "bad value"}),
        ("/errors/value-subclass", 422, {"error": "value", "msg": "a ValueError subclass"}),
    ],
)
def test_error_handlers(target: Target, ref: Target, url: str, status: int, body: dict) -> None:
    r = target.get(url)
    assert r.status == status, r
    assert r.header("content-type") == "application/json", r
    assert r.json() == body
    assert_same(r, ref.get(url))


def test_exception_class_handler_returning_response(target: Target, ref: Target) -> None:
    r = target.get("/errors/teapot")
    assert (r.status, r.body) == (418, b"teapot"), r
    assert_same(r, ref.get("/errors/teapot"))


@pytest.mark.parametrize(
    ("url", "status", "detail", "headers"),
    [
        ("/errors/abort", 409, "already exists", {}),
        ("/errors/httpexc", 429, "slow down", {"retry-after": "3"}),
    ],
)
def test_abort_and_http_exception(
    target: Target, ref: Target, url: str, status: int, detail: str, headers: dict[str, str]
) -> None:
    r = target.get(url)
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM, r
    doc = r.json()
    assert doc["status"] == status and doc["detail"] == detail and doc["title"] and doc["type"], doc
    for name, value in headers.items():
        assert r.header(name) == value, r
    assert_same(r, ref.get(url))


def test_blueprint_hooks_and_middleware(target: Target, ref: Target) -> None:
    r = target.get("/api/ping")
    assert r.status == 200, r
    assert r.json() == {"pong": True, "trail": ["api_before"]}
    assert r.header("x-api-after") == "1" and r.header("x-api-mw") == "1", r
    assert_same(r, ref.get("/api/ping"))


def test_nested_blueprint_runs_parent_hooks_first(target: Target, ref: Target) -> None:
    r = target.get("/api/v1/users/3")
    assert r.status == 200, r
    doc = r.json()
    assert doc["user_id"] == 3 and doc["trail"] == ["api_before", "v1_before"], doc
    assert r.header("x-api-after") == "1" and r.header("x-api-mw") == "1", r
    assert_same(r, ref.get("/api/v1/users/3"))


def test_blueprint_hooks_do_not_leak_to_other_blueprints(target: Target, ref: Target) -> None:
    r = target.get("/other/x")
    assert r.status == 200, r
    assert r.json() == {"other": True, "trail": []}
    assert r.header("x-api-after") is None and r.header("x-api-mw") is None, r
    assert_same(r, ref.get("/other/x"))
    assert target.get("/ignored/x").status == 404  # the registration prefix replaced the blueprint's own


def test_blueprint_url_for(target: Target, ref: Target) -> None:
    r = target.get("/bp-urls")
    assert r.json() == {"ping": "/api/ping", "other": "/other/x"}, r
    assert_same(r, ref.get("/bp-urls"))


def test_nested_blueprint_url_for(target: Target, ref: Target) -> None:
    r = target.get("/bp-urls-nested")
    assert r.json() == {"v1_user": "/api/v1/users/3"}, r  # Flask's dotted name: parent.child.func
    assert_same(r, ref.get("/bp-urls-nested"))
