"""slash_policy="add_slash" over every path."""

from __future__ import annotations

import pytest

from compat_tests.harness import Target, assert_same
from compat_tests.slash_checks import EVIL_TARGETS, assert_no_open_redirect, assert_redirect, raw_get

APP = "app_slash:add_app"


@pytest.mark.parametrize(
    ("url", "location"),
    [("/docs", "/docs/"), ("/docs?x=1&y=%20", "/docs/?x=1&y=%20"), ("/docs/5", "/docs/5/"), ("/any/a/b", "/any/a/b/")],
)
def test_missing_slash_redirects_308(target: Target, ref: Target, url: str, location: str) -> None:
    r = target.get(url)
    assert_redirect(r, location)
    assert_same(r, ref.get(url))


def test_redirect_preserves_method(target: Target, ref: Target) -> None:
    r = target.post("/form", content=b"data")
    assert_redirect(r, "/form/")
    assert_same(r, ref.post("/form", content=b"data"))


@pytest.mark.parametrize(("url", "body"), [("/docs/", {"docs": True}), ("/", {"root": True}), ("/docs/5/", {"doc": 5})])
def test_slashed_paths_are_served(target: Target, ref: Target, url: str, body: dict) -> None:
    r = target.get(url)
    assert r.status == 200, r
    assert r.json() == body
    assert_same(r, ref.get(url))


def test_no_redirect_when_nothing_would_match(target: Target, ref: Target) -> None:
    r = target.get("/docs/notanint")
    # "/docs/notanint/" is served by the catch-all, so a redirect is fine; it must stay on this host.
    assert_no_open_redirect(r)
    assert_same(r, ref.get("/docs/notanint"))


@pytest.mark.parametrize("path", EVIL_TARGETS)
def test_never_an_open_redirect(target: Target, ref: Target, path: str) -> None:
    r = raw_get(target, path)
    assert_no_open_redirect(r)
    r_ref = raw_get(ref, path)
    assert (r.status, r.header("location")) == (r_ref.status, r_ref.header("location")), (r, r_ref)
