"""slash_policy="remove_slash" over every path."""

from __future__ import annotations

import pytest

from compat_tests.harness import Target, assert_same
from compat_tests.slash_checks import EVIL_TARGETS, assert_no_open_redirect, assert_redirect, raw_get

APP = "app_slash:remove_app"


@pytest.mark.parametrize(
    ("url", "location"), [("/docs/", "/docs"), ("/docs/?x=1", "/docs?x=1"), ("/docs/5/", "/docs/5")]
)
def test_trailing_slash_redirects_308(target: Target, ref: Target, url: str, location: str) -> None:
    r = target.get(url)
    assert_redirect(r, location)
    assert_same(r, ref.get(url))


def test_root_is_not_redirected(target: Target, ref: Target) -> None:
    r = target.get("/")
    assert r.status == 200 and r.json() == {"root": True}, r
    assert_same(r, ref.get("/"))


@pytest.mark.parametrize("path", EVIL_TARGETS + ["//evil.example/", "//evil.example//"])
def test_never_an_open_redirect(target: Target, ref: Target, path: str) -> None:
    r = raw_get(target, path)
    assert_no_open_redirect(r)
    r_ref = raw_get(ref, path)
    assert (r.status, r.header("location")) == (r_ref.status, r_ref.header("location")), (r, r_ref)
