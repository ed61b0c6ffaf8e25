"""docs/hardening.md row 36: ``?next=`` with each of Django's bad URLs is refused and redirects to ``/``."""

from __future__ import annotations

from typing import Any

import pytest

from gobstopper import Gobstopper, redirect
from gobstopper.testing import TestClient
from gobstopper.utils.redirects import is_safe_redirect, safe_redirect_target

# Django's URLHasAllowedHostAndSchemeTests.test_bad_urls / test_good_urls.
BAD_URLS = (
    "http://example.com", "http:///example.com", "https://example.com", "ftp://example.com", r"\\example.com",
    r"\\\example.com", r"/\\/example.com", r"\\//example.com", r"/\/example.com", r"\/example.com",
    r"/\example.com", r"http:/\//example.com", r"http:\/example.com", r"http:/\example.com",
    'javascript:alert("XSS")', "\njavascript:alert(x)", "java\nscript:alert(x)", "\x08//example.com",
    r"http://otherserver\@example.com", r"http:\\testserver\@example.com", r"http://testserver\me:pass@example.com",
    r"http://testserver\@example.com", r"http:\\testserver\confirm\me@example.com", "http:999999999",
    "ftp:9999999999", "\n", "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
    "http://2001:cdba:0000:0000:0000:0000:3257:9652]/", "//evil.com", "///evil.com", "",
)  # fmt: skip
GOOD_URLS = (
    "/view/?param=http://example.com", "/view/?param=https://example.com", "/view?param=ftp://example.com",
    "view/?param=//example.com", "https://testserver/", "HTTPS://testserver/", "//testserver/",
    "http://testserver/confirm?email=me@example.com", "/url%20with%20spaces/", "path/http:2222222222",
)  # fmt: skip


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_urls_are_refused(url: str) -> None:
    assert not is_safe_redirect(url, {"testserver"})


@pytest.mark.parametrize("url", GOOD_URLS)
def test_good_urls_are_allowed(url: str) -> None:
    assert is_safe_redirect(url, {"testserver"})


def test_require_https() -> None:
    assert not is_safe_redirect("http://testserver/", {"testserver"}, require_https=True)
    assert is_safe_redirect("https://testserver/", {"testserver"}, require_https=True)
    assert not is_safe_redirect("/x" * 2000, {"testserver"})  # longer than any real target


@pytest.mark.parametrize("url", [u for u in BAD_URLS if u])
def test_next_parameter_falls_back_to_root(url: str) -> None:
    app = Gobstopper(__name__)

    @app.get("/login")
    async def login(request: Any) -> Any:
        return redirect(safe_redirect_target(request, request.get_str("next")))

    with TestClient(app) as client:
        r = client.get("/login", params={"next": url}, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/"


def test_next_parameter_keeps_a_safe_target() -> None:
    app = Gobstopper(__name__)

    @app.get("/login")
    async def login(request: Any) -> Any:
        return redirect(safe_redirect_target(request, request.get_str("next")))

    with TestClient(app) as client:
        r = client.get("/login", params={"next": "/account?tab=1"}, follow_redirects=False)
    assert r.headers["location"] == "/account?tab=1"
