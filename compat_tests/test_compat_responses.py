"""Return values, response classes, files, streams, cookies and request attributes over every path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from compat_tests.harness import APPS_DIR, Target, assert_same

APP = "app_responses:app"

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
PROBLEM = "application/problem+json"
HELLO = (APPS_DIR / "static" / "hello.txt").read_bytes()


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


RETURN_TABLE = [
    # url, status, content-type, body (bytes) or parsed JSON, extra headers
    ("/ret/dict", 200, JSON, {"a": 1, "nested": {"b": [1, 2]}}, {}),
    ("/ret/list", 200, JSON, [1, "two", None], {}),
    ("/ret/str", 200, HTML, "<b>héllo ✓</b>".encode(), {}),
    ("/ret/bytes", 200, "application/octet-stream", b"\x00\x01raw\xff", {}),
    ("/ret/tuple-status", 201, JSON, {"created": True}, {}),
    ("/ret/tuple-status-headers", 202, HTML, b"accepted", {"x-t": "1"}),
    ("/ret/tuple-headers", 200, HTML, b"with headers", {"x-t": "2"}),
    ("/ret/response", 201, TEXT, b"plain", {"x-r": "1"}),
    ("/ret/json-response", 202, JSON, {"k": "v", "u": "é"}, {}),
    ("/ret/jsonify", 200, JSON, {"a": 1, "b": [1, 2]}, {}),
    ("/ret/make-response", 203, HTML, b"made", {"x-m": "1"}),
    ("/ret/redirect", 302, HTML, None, {"location": "/target"}),
    ("/ret/redirect-301", 301, HTML, None, {"location": "/target?a=1"}),
    ("/ret/header-mutation", 200, HTML, b"mutated", {"x-mutated": "replaced"}),
]


@pytest.mark.parametrize(("url", "status", "ctype", "body", "extra"), RETURN_TABLE, ids=[r[0] for r in RETURN_TABLE])
def test_return_value_table(
    target: Target, ref: Target, url: str, status: int, ctype: str, body: Any, extra: dict[str, str]
) -> None:
    r = target.get(url)
    assert r.status == status, r
    if body is not None:  # redirects: the body is whatever the framework renders, compared across paths
        assert r.header("content-type") == ctype, r
        if isinstance(body, bytes):
            assert r.body == body
        else:
            assert r.json() == body
    for name, value in extra.items():
        assert r.header_list(name) == [value], r
    # hyper computes it for bytes/str under RSGI; the ASGI adapter must agree byte for byte.
    assert r.header_list("content-length") == [str(len(r.body))], r
    assert_same(r, ref.get(url))


def test_none_is_204_without_body_or_length(target: Target, ref: Target) -> None:
    r = target.get("/ret/none")
    assert (r.status, r.body) == (204, b""), r
    assert r.header("content-length") is None, r
    assert_same(r, ref.get("/ret/none"))


@pytest.mark.parametrize("url", ["/stream/gen", "/stream/callable"])
def test_stream_response(target: Target, ref: Target, url: str) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.body == "abc✓".encode()
    assert r.header("content-type") == TEXT
    assert r.header("content-length") is None  # unknown length: chunked on the wire
    assert_same(r, ref.get(url))


def test_stream_head_has_no_body(target: Target, ref: Target) -> None:
    r = target.head("/stream/gen")
    assert (r.status, r.body) == (200, b""), r
    assert_same(r, ref.head("/stream/gen"))


@pytest.mark.parametrize("url", ["/file/plain", "/file/send-file", "/file/dir/hello.txt"])
def test_file_response(target: Target, ref: Target, url: str) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.body == HELLO
    assert r.header("content-type") in ("text/plain; charset=utf-8", "text/plain"), r
    assert r.header_list("content-length") == [str(len(HELLO))], r  # always set for files (docs/rsgi-notes.md, G6)
    assert_same(r, ref.get(url))
    head = target.head(url)
    assert (head.status, head.body) == (200, b""), head
    assert head.comparable()[:2] == r.comparable()[:2]
    assert_same(head, ref.head(url))


def test_file_attachment(target: Target, ref: Target) -> None:
    r = target.get("/file/attachment")
    assert r.status == 200 and r.body == HELLO, r
    disposition = r.header("content-disposition") or ""
    assert disposition.startswith("attachment") and "report.txt" in disposition, r
    assert r.header("x-f") == "1"
    assert_same(r, ref.get("/file/attachment"))


def test_file_range(target: Target, ref: Target) -> None:
    headers = {"range": "bytes=0-4"}
    r = target.get("/file/plain", headers=headers)
    assert r.status == 206, r
    assert r.body == HELLO[:5]
    assert r.header("content-range") == f"bytes 0-4/{len(HELLO)}"
    assert r.header_list("content-length") == ["5"]
    assert_same(r, ref.get("/file/plain", headers=headers))


@pytest.mark.parametrize("url", ["/file/missing", "/file/dir/missing.txt", "/file/dir/..%2Fapp_responses.py"])
def test_missing_or_outside_file_is_framework_404(target: Target, ref: Target, url: str) -> None:
    # Not Granian's bare "Not found": the framework checks the file before handing it to the server.
    r = target.get(url)
    assert r.status == 404, r
    assert r.header("content-type") == PROBLEM, r
    assert b"app_responses" not in r.body and b"Gobstopper" not in r.body
    assert_same(r, ref.get(url))


def test_set_cookie_headers_stay_separate(target: Target, ref: Target) -> None:
    r = target.get("/cookies/set")
    cookies = r.header_list("set-cookie")
    assert len(cookies) == 3, r
    a, b, c = cookies
    attrs = [{p.strip().split("=")[0].lower() for p in x.split(";")[1:]} for x in cookies]
    assert a.startswith("a=1;") and {"httponly", "secure", "samesite", "path"} <= attrs[0], a
    assert "samesite=lax" in a.lower().replace(" ", "") and "path=/" in a.lower()
    assert b.startswith("b=2;") and "httponly" not in attrs[1] and "max-age" in attrs[1], b
    assert "samesite=strict" in b.lower() and "path=/x" in b.lower(), b
    assert c.startswith("c=") and ("max-age" in attrs[2] or "expires" in attrs[2]), c
    assert_same(r, ref.get("/cookies/set"))


@pytest.mark.parametrize(
    ("cookie", "status", "expected"),
    [
        ("a=1; b=two", 200, {"a": "1", "b": "two"}),
        ('q="quoted value"', 200, None),
        ("=bad; a=1; ;;; c", 200, None),  # nameless and empty pieces must not crash the parser
        ("a=" + "\\" * 4000, 200, None),  # CPython CVE-2024-7592-style quadratic input, under the header cap
        ("a=" + "\\" * 20000, 431, None),  # over the 16 KiB header-line cap
        ("a=1; a=2", 200, None),
    ],
)
def test_cookie_parsing_never_500s(
    target: Target, ref: Target, cookie: str, status: int, expected: dict | None
) -> None:
    r = target.get("/cookies/echo", headers={"cookie": cookie})
    assert r.status == status, r
    if expected is not None:
        assert r.json() == {"cookies": expected}
    assert_same(r, ref.get("/cookies/echo", headers={"cookie": cookie}))


def test_request_attributes(target: Target, ref: Target) -> None:
    url = "/req/info/7?x=1&x=2&y=%20z&e="
    headers = [("X-Dup", "one"), ("x-dup", "two")]
    r = target.get(url, headers=headers)
    assert r.status == 200, r
    assert r.json() == {
        "method": "GET",
        "path": "/req/info/7",
        "query_string": "x=1&x=2&y=%20z&e=",
        "args": {"x": ["1", "2"], "y": [" z"], "e": [""]},
        "dup_list": ["one", "two"],
        "dup_get": "one",
        "missing": "default",
        "client_ip": "127.0.0.1",
        "scheme": "http",
        "host": "testserver",
        "host_url": "http://testserver/",
        "base_url": "http://testserver/req/info/7",
        "url": "http://testserver/req/info/7?x=1&x=2&y=%20z&e=",
        "is_json": False,
        "view_args": {"n": 7},
        "endpoint": "req_info",
    }
    assert_same(r, ref.get(url, headers=headers))


def test_request_body_json(target: Target, ref: Target) -> None:
    r = target.post("/req/body", json={"a": [1, 2]})
    assert r.status == 200, r
    doc = r.json()
    assert doc["json"] == {"a": [1, 2]} and doc["is_json"] is True
    assert_same(r, ref.post("/req/body", json={"a": [1, 2]}))


def test_request_body_large(target: Target, ref: Target) -> None:
    # Several RSGI body chunks (and the final b"") must come back as one body.
    payload = bytes(range(256)) * 2000  # 512 KB
    r = target.post("/req/body", content=payload, headers={"content-type": "application/octet-stream"})
    assert r.status == 200, r
    assert r.json() == {"len": len(payload), "sha256": hashlib.sha256(payload).hexdigest(), "json": None,
                        "is_json": False}  # fmt: skip
    assert_same(r, ref.post("/req/body", content=payload, headers={"content-type": "application/octet-stream"}))


@pytest.mark.parametrize("body", [b"{bad", b'"\xff\xfe"', b"[" * 5000 + b"]" * 5000])
def test_invalid_json_is_400(target: Target, ref: Target, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    r = target.post("/req/json", content=body, headers=headers)
    assert r.status == 400, r
    assert r.header("content-type") == PROBLEM
    assert_same(r, ref.post("/req/json", content=body, headers=headers))


def test_unhandled_exception_is_generic_500(target: Target, ref: Target) -> None:
    r = target.get("/bad/boom")
    assert r.status == 500, r
    assert r.header("content-type") == PROBLEM, r
    assert b"secret-detail" not in r.body
    assert_same(r, ref.get("/bad/boom"))
    assert target.get("/ret/dict").status == 200  # the next request still works


def test_crlf_in_redirect_target_injects_nothing(target: Target, ref: Target) -> None:
    url = "/bad/redirect?to=/x%0D%0ASet-Cookie:%20injected=1"
    r = target.get(url)
    assert r.status in (302, 500), r
    assert r.header("set-cookie") is None, r
    assert all("\r" not in v and "\n" not in v for _, v in r.headers)
    if r.status == 302:
        assert (r.header("location") or "").startswith("/x"), r
    assert_same(r, ref.get(url))


@pytest.mark.parametrize("value", ["v%0D%0AInjected:%201", "v%0AInjected:%201", "v%00nul"])
def test_crlf_in_app_header_is_500_and_nothing_injected(target: Target, ref: Target, value: str) -> None:
    r = target.get(f"/bad/header?v={value}")
    assert r.status == 500, r
    assert r.header("injected") is None and r.header("x-echo") is None, r
    assert b"never sent" not in r.body
    assert_same(r, ref.get(f"/bad/header?v={value}"))


@pytest.mark.parametrize(
    "host_lines",
    [
        b"Host: testserver\r\nHost: evil.example\r\n",  # duplicate Host (aiohttp CVE-2026-34525)
        b"Host: example.com@evil.tld\r\n",
        b"Host: a/admin?\r\n",
        b"Host: bad host\r\n",
    ],
)
def test_malformed_host_is_400(target: Target, host_lines: bytes) -> None:
    # Status only: uvicorn-h11 may reject some of these itself with its own body.
    r = target.raw(b"GET /req/info/1 HTTP/1.1\r\n" + host_lines + b"Connection: close\r\n\r\n")
    assert r.status == 400, r
    if r.header("content-type") == PROBLEM:
        assert "host" in r.json()["detail"].lower()


@pytest.mark.real_servers_only  # httpx always sends a Host header
def test_missing_host_on_http11_is_400(target: Target) -> None:
    assert target.real
    r = target.raw(b"GET /req/info/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert r.status == 400, r


def test_startup_hooks_ran(target: Target, ref: Target) -> None:
    r = target.get("/life/state")
    assert r.json() == {"sync_started": True, "async_started": True}, r
    assert_same(r, ref.get("/life/state"))


def test_shutdown_hooks_run(target: Target, request: pytest.FixtureRequest) -> None:
    # Last in the module: stopping the session server here means a later user restarts it.
    from compat_tests.harness import ServerTarget, load_app, make_in_process

    if isinstance(target, ServerTarget):
        pool = request.getfixturevalue("server_pool")
        server = target.server
        marker = Path(server.log_path).with_suffix(".shutdown")
        pool.stop(server.key)
        assert marker.exists(), f"on_shutdown did not run under {server.key.slug}\n{server.log_text()}"
        return
    module = __import__("app_responses")
    before = module.state["shutdown"]
    _, client = make_in_process(target.name, load_app(APP))
    with client:
        assert client.get("/life/state").json() == {"sync_started": True, "async_started": True}
    assert module.state["shutdown"] == before + 1
