"""The runnable examples in examples/, served by every path (docs/design.md §1: each example is tested)."""

from __future__ import annotations

from compat_tests.harness import Target, assert_same

APP = "hello:app"


def test_hello_index(target: Target, ref: Target) -> None:
    r = target.get("/")
    assert r.status == 200, r
    assert r.json() == {"message": "Hello from Gobstopper!"}
    assert r.header("content-type") == "application/json"
    assert_same(r, ref.get("/"))


def test_hello_user(target: Target, ref: Target) -> None:
    r = target.get("/users/42")
    assert r.json() == {"user_id": "42", "name": "User 42"}, r
    assert_same(r, ref.get("/users/42"))


def test_hello_unknown_path_is_a_problem_404(target: Target, ref: Target) -> None:
    r = target.get("/nope")
    assert (r.status, r.header("content-type")) == (404, "application/problem+json"), r
    assert_same(r, ref.get("/nope"))
