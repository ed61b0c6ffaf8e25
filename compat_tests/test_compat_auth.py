"""The login/logout example (examples/login.py) end to end on every path: sessions, rotation, CSRF, logout."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from compat_tests.harness import Result, Target, assert_same

APP = "login:app"
FORM = "application/x-www-form-urlencoded"


def session_cookie(r: Result) -> str | None:
    for value in r.header_list("set-cookie"):
        if value.startswith("session_id="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


def login(target: Target, password: str = "lovelace") -> tuple[str, str, Result]:
    page = target.get("/login")
    assert page.status == 200, page
    cookie = session_cookie(page)
    assert cookie is not None, page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    body = urlencode({"csrf_token": token, "username": "ada", "password": password})
    r = target.post("/login", headers={"cookie": f"session_id={cookie}", "content-type": FORM}, content=body)
    return cookie, token, r


def test_login_me_logout(target: Target) -> None:
    old_cookie, _, r = login(target)
    assert (r.status, r.header("location")) == (303, "/me"), r
    new_cookie = session_cookie(r)
    assert new_cookie and new_cookie.split(".")[0] != old_cookie.split(".")[0]  # rotated at login
    assert r.header("x-content-type-options") == "nosniff"

    me = target.get("/me", headers={"cookie": f"session_id={new_cookie}"})
    assert me.status == 200, me
    data = me.json()
    assert data["user"] == "ada" and data["notifications"] == ["Welcome, ada!"]
    assert "cookie" in (me.header("vary") or "").lower() and me.header("cache-control") == "private"

    # The pre-login id is dead.
    assert target.get("/me", headers={"cookie": f"session_id={old_cookie}"}).status == 401

    out = target.post("/logout", headers={"cookie": f"session_id={new_cookie}", "x-csrf-token": data["csrf_token"]})
    assert (out.status, out.header("location")) == (303, "/login"), out
    expired = [v for v in out.header_list("set-cookie") if v.startswith("session_id=")]
    assert expired and "Max-Age=0" in expired[0], out
    assert target.get("/me", headers={"cookie": f"session_id={new_cookie}"}).status == 401


def test_wrong_password_keeps_anonymous(target: Target) -> None:
    _, _, r = login(target, password="nope")
    assert (r.status, r.header("location")) == (303, "/login"), r


def test_login_without_token_or_from_another_origin_is_403(target: Target) -> None:
    page = target.get("/login")
    cookie = session_cookie(page)
    body = urlencode({"username": "ada", "password": "lovelace"})
    headers = {"cookie": f"session_id={cookie}", "content-type": FORM}
    r = target.post("/login", headers=headers, content=body)
    assert r.status == 403 and session_cookie(r) is None, r
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    body = urlencode({"csrf_token": token, "username": "ada", "password": "lovelace"})
    r = target.post("/login", headers={**headers, "origin": "https://evil.example"}, content=body)
    assert r.status == 403 and token not in r.text, r


def test_forged_cookie_is_anonymous(target: Target, ref: Target) -> None:
    headers = {"cookie": "session_id=../../etc/passwd." + "A" * 43}
    r = target.get("/me", headers=headers)
    assert r.status == 401, r
    assert_same(r, ref.get("/me", headers=headers))


def test_no_server_software_is_named(target: Target) -> None:
    # docs/hardening.md row 39: SecurityMiddleware replaces the server's own Server header (Granian's "server: granian";
    # uvicorn runs with --no-server-header, as `gobstopper run` starts it).
    r = target.get("/")
    assert [v for v in r.header_list("server") if v.strip()] == [], r
