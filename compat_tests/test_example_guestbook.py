"""examples/guestbook.py on every path: a template-rendered form whose CSRF token comes from the template."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from compat_tests.harness import HOST, Target

APP = "guestbook:app"


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _headers(target: Target, set_cookie: str) -> dict[str, str]:
    return {
        "cookie": set_cookie.split(";", 1)[0],
        "origin": f"http://{HOST}",  # the harness sends Host: testserver on every path
        "content-type": "application/x-www-form-urlencoded",
    }


def test_the_form_round_trip_with_the_templates_token(target: Target) -> None:
    page = target.get("/")
    assert (page.status, page.header("content-type")) == (200, "text/html; charset=utf-8"), page
    assert '<form method="post" action="/sign">' in page.text
    cookie = page.header("set-cookie")
    assert cookie, page
    headers = _headers(target, cookie)
    form = {"csrf_token": _token(page.text), "name": f"<i>{target.name}</i>", "message": "hello"}
    r = target.post("/sign", content=urlencode(form), headers=headers)
    assert (r.status, r.header("location")) == (303, "/"), r
    after = target.get("/", headers={"cookie": headers["cookie"]})
    assert f"<b>&lt;i&gt;{target.name}&lt;/i&gt;</b>: hello" in after.text  # escaped by the template
    assert "Thanks for signing!" in after.text  # the notification, shown once


def test_a_post_without_the_token_is_refused(target: Target) -> None:
    page = target.get("/")
    headers = _headers(target, page.header("set-cookie") or "")
    r = target.post("/sign", content=urlencode({"name": "x", "message": "y"}), headers=headers)
    assert r.status == 403, r
