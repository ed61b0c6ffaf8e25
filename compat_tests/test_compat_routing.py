"""Routing over every path: specificity, convertors, 404/405, HEAD, OPTIONS, url_for, mount."""

from __future__ import annotations

import pytest

from compat_tests.harness import Result, Target, assert_same

APP = "app_routing:app"

JSON = "application/json"
PROBLEM = "application/problem+json"


def allow_set(r: Result) -> set[str]:
    value = r.header("allow")
    assert value is not None, f"no Allow header: {r}"
    return {m.strip() for m in value.split(",")}


def assert_problem(r: Result, status: int) -> dict:
    assert r.status == status, r
    assert r.header("content-type") == PROBLEM, r
    doc = r.json()
    assert doc["status"] == status and doc["title"] and doc["type"], doc
    return doc


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/items/new", {"route": "static"}),
        ("/items/5", {"route": "int", "item_id": 5}),
        ("/items/abc", {"route": "str", "name": "abc"}),
        ("/items/a/b/c", {"route": "path", "rest": "a/b/c"}),
        ("/multi/x/3/tail", {"a": "x", "b": 3}),
        ("/", {"page": "index"}),
    ],
)
def test_specificity_not_registration_order(target: Target, ref: Target, url: str, expected: dict) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.header("content-type") == JSON
    assert r.json() == expected
    assert r.header("content-length") == str(len(r.body))
    assert_same(r, ref.get(url))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/conv/int/42", {"type": "int", "value": 42}),
        ("/conv/float/2.5", {"type": "float", "value": 2.5}),
        (
            "/conv/uuid/12345678-1234-5678-1234-567812345678",
            {"type": "UUID", "value": "12345678-1234-5678-1234-567812345678"},
        ),
        ("/conv/date/2024-05-01", {"type": "date", "value": "2024-05-01"}),
        ("/conv/path/a/b/c.txt", {"type": "str", "value": "a/b/c.txt"}),
        ("/conv/str/hello", {"type": "str", "value": "hello"}),
    ],
)
def test_convertors(target: Target, ref: Target, url: str, expected: dict) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.json() == expected
    assert_same(r, ref.get(url))


def test_bad_convertor_value_is_400_with_message(target: Target, ref: Target) -> None:
    # Matches the date regex but is not a real date: a bad parameter, not a 404 (router spec).
    r = target.get("/conv/date/2024-02-30")
    doc = assert_problem(r, 400)
    assert doc.get("detail"), doc
    assert_same(r, ref.get("/conv/date/2024-02-30"))


@pytest.mark.parametrize("url", ["/conv/int/abc", "/conv/uuid/not-a-uuid", "/nope", "/items"])
def test_not_found_is_problem_json(target: Target, ref: Target, url: str) -> None:
    r = target.get(url)
    assert_problem(r, 404)
    assert_same(r, ref.get(url))


def test_not_found_as_html_for_browsers(target: Target, ref: Target) -> None:
    headers = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = target.get("/nope", headers=headers)
    assert r.status == 404
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert b"404" in r.body
    assert_same(r, ref.get("/nope", headers=headers))


def test_405_carries_allow(target: Target, ref: Target) -> None:
    r = target.post("/items/new")
    assert_problem(r, 405)
    assert allow_set(r) == {"GET", "HEAD", "OPTIONS"}
    assert_same(r, ref.post("/items/new"))

    r = target.request("DELETE", "/methods")
    assert_problem(r, 405)
    assert allow_set(r) == {"GET", "HEAD", "OPTIONS", "POST", "PUT"}
    assert_same(r, ref.request("DELETE", "/methods"))


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_methods(target: Target, ref: Target, method: str) -> None:
    r = target.request(method, "/methods")
    assert r.status == 200, r
    assert r.json() == {"method": method}
    assert_same(r, ref.request(method, "/methods"))


def test_delete_and_patch_routes(target: Target, ref: Target) -> None:
    r = target.request("DELETE", "/methods/delete-only")
    assert (r.status, r.body) == (204, b""), r
    assert r.header("content-length") is None, r  # no length on 204 (hyper drops it; ASGI must not send it)
    assert_same(r, ref.request("DELETE", "/methods/delete-only"))
    r = target.request("PATCH", "/methods/patch-only")
    assert r.json() == {"patched": True}
    assert_same(r, ref.request("PATCH", "/methods/patch-only"))


@pytest.mark.parametrize("url", ["/head-check", "/items/5", "/"])
def test_automatic_head_same_headers_no_body(target: Target, ref: Target, url: str) -> None:
    get = target.get(url)
    head = target.head(url)
    assert head.status == get.status == 200
    assert head.body == b""
    # Same headers as GET, content-length included (it describes the GET body).
    assert head.comparable()[:2] == get.comparable()[:2], (head, get)
    assert head.header("content-length") == str(len(get.body))
    assert_same(head, ref.head(url))


def test_head_on_post_only_route_is_405(target: Target, ref: Target) -> None:
    r = target.head("/methods/patch-only")
    assert r.status == 405 and r.body == b"", r
    assert_same(r, ref.head("/methods/patch-only"))


def test_automatic_options_lists_allow(target: Target, ref: Target) -> None:
    r = target.options("/methods")
    assert r.status in (200, 204), r
    assert allow_set(r) == {"GET", "HEAD", "OPTIONS", "POST", "PUT"}
    assert r.body == b""
    assert_same(r, ref.options("/methods"))


def test_registered_options_handler_wins(target: Target, ref: Target) -> None:
    r = target.options("/explicit-options")
    assert r.status == 204, r
    assert r.header("x-custom-options") == "1"
    assert r.header("allow") == "GET, OPTIONS"
    assert_same(r, ref.options("/explicit-options"))


def test_url_for(target: Target, ref: Target) -> None:
    r = target.get("/urls")
    assert r.json() == {"user": "/users/42", "index": "/", "items_int": "/items/7", "files": "/files/a/b.txt"}
    assert_same(r, ref.get("/urls"))


def test_path_is_decoded_once(target: Target, ref: Target) -> None:
    # Servers decode the path (Granian even decodes %2F); the framework must not decode again.
    r = target.get("/echo-path/a%2Fb/caf%C3%A9/%2541")
    assert r.status == 200, r
    assert r.json() == {
        "path": "/echo-path/a/b/café/%41",
        "rest": "a/b/café/%41",
        "view_args": {"rest": "a/b/café/%41"},
    }
    assert_same(r, ref.get("/echo-path/a%2Fb/caf%C3%A9/%2541"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/sub/", {"sub": "root", "path": "/"}),
        ("/sub/hello/3", {"sub": "hello", "n": 3, "path": "/hello/3"}),
    ],
)
def test_mount(target: Target, ref: Target, url: str, expected: dict) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.json() == expected
    assert_same(r, ref.get(url))


def test_mount_miss_is_404(target: Target, ref: Target) -> None:
    r = target.get("/sub/nope")
    assert_problem(r, 404)
    assert_same(r, ref.get("/sub/nope"))
    r = target.get("/sub")
    assert_same(r, ref.get("/sub"))  # whatever the bare mount point does, every path must agree
