"""CORSMiddleware: preflight on any route, exact origins, Vary: Origin, never * with credentials (row 45)."""

from __future__ import annotations

from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.middleware import CORSMiddleware
from gobstopper.testing import TestClient


def make_client(**options: Any) -> TestClient:
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(**options), priority=90)

    @app.get("/items")
    async def items(request: Any) -> Any:
        return {"items": []}

    @app.post("/items")
    async def create(request: Any) -> Any:
        return {"created": True}, 201

    return TestClient(app)


PRE = {"access-control-request-method": "POST"}


def test_preflight_on_a_route_without_options() -> None:
    client = make_client(origins=["https://app.example"], allow_credentials=True, max_age=600)
    r = client.options("/items", headers={"origin": "https://app.example", **PRE,
                                          "access-control-request-headers": "Content-Type"})  # fmt: skip
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert r.headers["access-control-max-age"] == "600"
    assert "origin" in r.headers["vary"].lower()


def test_preflight_on_unknown_path_and_on_405_path() -> None:
    client = make_client(origins=["https://app.example"])
    for path in ("/nope", "/items"):
        r = client.options(path, headers={"origin": "https://app.example", "access-control-request-method": "PUT"})
        assert r.status_code == 204, path


@pytest.mark.parametrize(
    ("origin", "headers"),
    [
        ("https://evil.example", {}),
        ("https://app.example", {"access-control-request-method": "PATCH"}),
        ("https://app.example", {"access-control-request-headers": "X-Secret"}),
        ("null", {}),
    ],
)
def test_disallowed_preflight_is_400_without_acao(origin: str, headers: dict[str, str]) -> None:
    client = make_client(origins=["https://app.example"], methods=["GET", "POST"])
    r = client.options("/items", headers={"origin": origin, **PRE, **headers})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    assert "origin" in r.headers["vary"].lower()


def test_regex_must_match_the_whole_origin() -> None:
    client = make_client(origins=[], origin_regex=r"https://[a-z]+\.example\.com")
    ok = client.get("/items", headers={"origin": "https://app.example.com"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
    for bad in ("https://app.example.com.evil.com", "https://evil.com/https://app.example.com", "null"):
        r = client.get("/items", headers={"origin": bad})
        assert "access-control-allow-origin" not in r.headers, bad
        assert "origin" in r.headers["vary"].lower()


def test_wildcard_never_with_credentials() -> None:
    with pytest.raises(ValueError):
        CORSMiddleware(origins=["*"], allow_credentials=True)
    client = make_client()  # default: any origin, no credentials
    r = client.get("/items", headers={"origin": "https://whoever.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert "access-control-allow-origin" not in client.get("/items", headers={"origin": "null"}).headers


def test_simple_request_and_no_leak_between_requests() -> None:
    client = make_client(origins=["https://a.example"], expose_headers=["X-Total"])
    r = client.post("/items", headers={"origin": "https://a.example"})
    assert r.status_code == 201 and r.headers["access-control-allow-origin"] == "https://a.example"
    assert r.headers["access-control-expose-headers"] == "X-Total"
    r = client.post("/items", headers={"origin": "https://b.example"})
    assert r.status_code == 201 and "access-control-allow-origin" not in r.headers
    r = client.get("/items")
    assert "access-control-allow-origin" not in r.headers and r.headers["vary"] == "Origin"


def test_options_without_request_method_is_not_a_preflight() -> None:
    client = make_client(origins=["https://a.example"])
    r = client.options("/items", headers={"origin": "https://a.example"})
    assert r.status_code == 200 and "GET" in r.headers["allow"]
    assert r.headers["access-control-allow-origin"] == "https://a.example"
