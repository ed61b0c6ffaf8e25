"""examples/openapi_api.py over every path: the same document, pages and errors from every server.

Only answers that do not depend on the example's in-memory store are compared (the in-process paths share one).
"""

from __future__ import annotations

from compat_tests.harness import Target, assert_same

APP = "openapi_api:app"


def test_the_document_is_the_same_everywhere(target: Target, ref: Target) -> None:
    r = target.get("/openapi.json")
    assert (r.status, r.header("content-type")) == (200, "application/json"), r
    document = r.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/api/events", "/api/health", "/api/items/", "/api/items/{item_id}"}
    assert_same(r, ref.get("/openapi.json"))
    scoped = target.get("/api/items/openapi.json")
    assert set(scoped.json()["paths"]) == {"/api/items/", "/api/items/{item_id}"}
    assert_same(scoped, ref.get("/api/items/openapi.json"))


def test_the_docs_pages_and_their_files(target: Target, ref: Target) -> None:
    for path in ("/docs", "/redoc", "/_openapi/swagger-init.js"):
        r = target.get(path)
        assert r.status == 200, r
        assert_same(r, ref.get(path), ignore=("etag", "last-modified"))
    assert (target.get("/docs").header("content-security-policy") or "").startswith("default-src 'none'")


def test_documented_errors(target: Target, ref: Target) -> None:
    bad = target.request("POST", "/api/items/", json={"name": "", "price": -1})
    assert (bad.status, bad.header("content-type")) == (422, "application/problem+json"), bad
    assert bad.json()["errors"][0]["loc"] in ("$.name", "$.price")
    assert_same(bad, ref.request("POST", "/api/items/", json={"name": "", "price": -1}))
    missing = target.get("/api/items/999999999")
    assert (missing.status, missing.json()["detail"]) == (404, "No item 999999999."), missing
    assert_same(missing, ref.get("/api/items/999999999"))
    unauthorized = target.request("DELETE", "/api/items/1")
    assert unauthorized.status == 401, unauthorized
    assert_same(unauthorized, ref.request("DELETE", "/api/items/1"))


def test_the_event_stream(target: Target, ref: Target) -> None:
    r = target.get("/api/events")
    assert (r.status, r.text) == (200, "data: 1\n\ndata: 2\n\ndata: 3\n\n"), r
    assert r.header("content-type") == "text/event-stream; charset=utf-8"
    assert_same(r, ref.get("/api/events"))
