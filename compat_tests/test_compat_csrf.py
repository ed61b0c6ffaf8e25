"""``request.csrf_token`` is created on first read within its session, on every path (issue 11, item 7)."""

from __future__ import annotations

from compat_tests.harness import Result, Target

APP = "csrf_first_read:app"


def session_cookie(r: Result) -> str | None:
    for value in r.header_list("set-cookie"):
        if value.startswith("session_id="):
            return value.split(";", 1)[0]
    return None


def test_first_read_creates_the_token_and_its_session(target: Target) -> None:
    page = target.get("/login")
    assert page.status == 200, page
    token = page.json()["csrf"]
    assert isinstance(token, str) and len(token) == 86, page  # the masked form of a 32-byte secret
    cookie = session_cookie(page)
    assert cookie is not None, page  # the session holding the secret was saved
    assert page.header("cache-control") == "private"
    ok = target.post("/login", headers={"cookie": cookie, "x-csrf-token": token, "content-length": "0"})
    assert (ok.status, ok.json()) == (200, {"logged_in": True}), ok
    refused = target.post("/login", headers={"cookie": cookie, "content-length": "0"})
    assert refused.status == 403, refused
    # The next page of the same session: the same secret, masked afresh; no new session.
    again = target.get("/login", headers={"cookie": cookie})
    assert again.json()["csrf"] not in (None, token) and session_cookie(again) is None, again
    ok = target.post("/login", headers={"cookie": cookie, "x-csrf-token": again.json()["csrf"], "content-length": "0"})
    assert ok.status == 200, ok


def test_a_page_that_never_reads_it_creates_nothing(target: Target) -> None:
    r = target.get("/cold")
    assert r.status == 200, r
    assert session_cookie(r) is None and r.header("cache-control") is None, r


def test_a_token_from_another_session_is_refused(target: Target) -> None:
    first = target.get("/login")
    second = target.get("/login")
    r = target.post(
        "/login",
        headers={"cookie": session_cookie(second) or "", "x-csrf-token": first.json()["csrf"], "content-length": "0"},
    )
    assert r.status == 403, r
