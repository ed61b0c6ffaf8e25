"""Names the reference documents, imported by an app served over every path (issue 11, item 10).

``apps/reference_names.py`` imports ``StaticMiddleware`` as the app-core guide names it and serves files with it;
``/names`` lists the documented names the server process cannot import (none).
"""

from __future__ import annotations

from compat_tests.harness import APPS_DIR, Target, assert_same

APP = "reference_names:app"

HELLO = (APPS_DIR / "static" / "hello.txt").read_bytes()


def test_every_supported_name_imports_in_the_server(target: Target, ref: Target) -> None:
    r = target.get("/names")
    assert r.status == 200, r
    assert r.json() == {"missing": []}
    assert_same(r, ref.get("/names"))


def test_static_middleware_serves_files(target: Target, ref: Target) -> None:
    r = target.get("/static/hello.txt")
    assert (r.status, r.body) == (200, HELLO), r
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert_same(r, ref.get("/static/hello.txt"))
