"""StaticFileMiddleware and blueprint static folders, in-process (traversal over raw sockets: compat_tests)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.middleware import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware
from gobstopper.testing import RSGITestClient, TestClient


@pytest.fixture
def site(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body{}")
    (static / "app.3f9a1c2b.js").write_text("x=1")
    (static / "big.txt").write_bytes(b"a" * 1000)
    (static / "big.txt.gz").write_bytes(gzip.compress(b"a" * 1000))
    (tmp_path / "secret.txt").write_text("secret")
    (static / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return tmp_path


@pytest.fixture(params=["asgi", "rsgi"])
def client(request: pytest.FixtureRequest, site: Path) -> Iterator[TestClient]:
    app = Gobstopper("static")
    app.add_middleware(StaticFileMiddleware(site / "static", url_prefix="/static"))

    @app.get("/staticfoo")
    async def not_static(request):
        return "route"

    with TestClient(app) if request.param == "asgi" else RSGITestClient(app) as test_client:
        yield test_client


def test_serves_files_with_validators(client: TestClient) -> None:
    r = client.get("/static/app.css")
    assert (r.status_code, r.text, r.headers["content-type"]) == (200, "body{}", "text/css; charset=utf-8")
    assert r.headers["cache-control"] == "public, no-cache"
    assert client.get("/static/app.3f9a1c2b.js").headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/static/app.css", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    r = client.get("/static/big.txt", headers={"Range": "bytes=0-9", "Accept-Encoding": "identity"})
    assert (r.status_code, r.content) == (206, b"a" * 10)
    r = client.get("/static/big.txt", headers={"Accept-Encoding": "gzip"})
    assert (r.headers["content-encoding"], r.content, r.headers["vary"]) == ("gzip", b"a" * 1000, "accept-encoding")
    r = client.head("/static/big.txt", headers={"Accept-Encoding": "identity"})
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "1000")


@pytest.mark.parametrize("path", ["/static/missing.css", "/static/escape.txt", "/static/", "/static"])
def test_missing_refused_and_escaping_paths_are_the_same_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_prefix_matches_whole_segments_and_other_methods_are_405(client: TestClient) -> None:
    assert client.get("/staticfoo").text == "route"
    r = client.post("/static/app.css")
    assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD")


def test_reference_names_are_one_implementation() -> None:
    assert RustStaticMiddleware is StaticFileMiddleware is HybridStaticMiddleware


def test_blueprint_static_folder(site: Path) -> None:
    app = Gobstopper("bp-static")
    bp = Blueprint("admin", url_prefix="/admin", static_folder=str(site / "static"))

    @bp.get("/")
    async def index(request):
        return "admin"

    app.register_blueprint(bp)
    client = TestClient(app)
    assert client.get("/admin/static/app.css").text == "body{}"
    assert client.get("/admin/").text == "admin"
