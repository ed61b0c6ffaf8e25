"""The Python router: the executable spec of docs/design.md §4."""

from __future__ import annotations

import datetime
import uuid

import pytest

from gobstopper._native.pattern import parse_pattern
from gobstopper._native.router import (
    BAD_PARAM,
    FOUND,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    RouteConflict,
    Router,
)


def make(*routes: tuple[str, list[str], str]) -> Router:
    router = Router()
    for pattern, methods, endpoint in routes:
        router.add(pattern, methods, endpoint)
    return router


def test_static_beats_typed_beats_str_beats_path_whatever_the_registration_order() -> None:
    router = make(
        ("/u/<path:rest>", ["GET"], "path"),
        ("/u/<name>", ["GET"], "str"),
        ("/u/<int:id>", ["GET"], "int"),
        ("/u/new", ["GET"], "static"),
    )
    assert router.match("GET", "/u/new") == (FOUND, "static", {})
    assert router.match("GET", "/u/42") == (FOUND, "int", {"id": 42})
    assert router.match("GET", "/u/bob") == (FOUND, "str", {"name": "bob"})
    assert router.match("GET", "/u/a/b") == (FOUND, "path", {"rest": "a/b"})


def test_backtracking_finds_a_less_specific_route_deeper_down() -> None:
    # The reference's Rust trie never backtracked: /a/static/b was a 404 there.
    router = make(("/a/<name>/b", ["GET"], "dyn"), ("/a/static/c", ["GET"], "static"))
    assert router.match("GET", "/a/static/b") == (FOUND, "dyn", {"name": "static"})
    assert router.match("GET", "/a/static/c") == (FOUND, "static", {})


def test_typed_and_str_siblings_coexist() -> None:
    router = make(("/u/<int:id>", ["GET"], "int"), ("/u/<slug>", ["GET"], "slug"))
    assert router.match("GET", "/u/7")[1] == "int"
    assert router.match("GET", "/u/seven")[1] == "slug"


def test_convertors_produce_python_values() -> None:
    router = make(
        ("/f/<float:x>", ["GET"], "float"),
        ("/id/<uuid:u>", ["GET"], "uuid"),
        ("/d/<date:d>", ["GET"], "date"),
    )
    assert router.match("GET", "/f/1.5") == (FOUND, "float", {"x": 1.5})
    u = uuid.uuid4()
    assert router.match("GET", f"/id/{u}") == (FOUND, "uuid", {"u": u})
    assert router.match("GET", "/d/2024-02-29") == (FOUND, "date", {"d": datetime.date(2024, 2, 29)})


def test_a_value_of_the_right_shape_that_does_not_convert_is_a_bad_parameter() -> None:
    router = make(("/d/<date:d>", ["GET"], "date"))
    status, name, message = router.match("GET", "/d/2024-02-30")
    assert (status, name) == (BAD_PARAM, "d")
    assert "Invalid value for path parameter 'd'" in message


def test_a_bad_parameter_lets_a_later_candidate_win() -> None:
    router = make(("/d/<date:d>", ["GET"], "date"), ("/d/<slug>", ["GET"], "slug"))
    assert router.match("GET", "/d/2024-02-30") == (FOUND, "slug", {"slug": "2024-02-30"})


def test_non_ascii_digits_do_not_match_int() -> None:
    router = make(("/n/<int:n>", ["GET"], "int"))
    assert router.match("GET", "/n/\u0661\u0662")[0] == NOT_FOUND


def test_method_not_allowed_lists_every_candidates_methods() -> None:
    router = make(("/u/new", ["GET"], "a"), ("/u/<name>", ["POST", "PUT"], "b"))
    assert router.match("POST", "/u/new") == (FOUND, "b", {"name": "new"})
    status, allowed, _ = router.match("DELETE", "/u/new")
    assert status == METHOD_NOT_ALLOWED
    assert allowed == {"GET", "POST", "PUT"}


def test_head_falls_back_to_get() -> None:
    router = make(("/", ["GET"], "root"), ("/x/<int:i>", ["GET"], "x"))
    assert router.match("HEAD", "/") == (FOUND, "root", {})
    assert router.match("HEAD", "/x/1") == (FOUND, "x", {"i": 1})


def test_mixed_segments_and_longer_tails_first() -> None:
    router = make(
        ("/api/v<int:version>/users", ["GET"], "mixed"),
        ("/f/<path:p>", ["GET"], "path"),
        ("/f/<path:p>/edit", ["GET"], "edit"),
    )
    assert router.match("GET", "/api/v2/users") == (FOUND, "mixed", {"version": 2})
    assert router.match("GET", "/api/vx/users")[0] == NOT_FOUND
    assert router.match("GET", "/f/a/b/edit") == (FOUND, "edit", {"p": "a/b"})
    assert router.match("GET", "/f/a/b") == (FOUND, "path", {"p": "a/b"})


def test_paths_are_never_decoded_again() -> None:
    # The server already decoded the path; "%41" arriving here is a literal percent sequence.
    router = make(("/p/<name>", ["GET"], "p"))
    assert router.match("GET", "/p/a%41") == (FOUND, "p", {"name": "a%41"})


def test_trailing_slash_is_a_different_path() -> None:
    router = make(("/a", ["GET"], "a"))
    assert router.match("GET", "/a/")[0] == NOT_FOUND


def test_conflicts_are_detected_whatever_the_parameter_names() -> None:
    router = make(("/u/<int:a>", ["GET"], "x"))
    with pytest.raises(RouteConflict):
        router.add("/u/<int:b>", ["GET"], "y")
    router.add("/u/<int:b>", ["POST"], "z")  # another method is fine
    assert router.match("POST", "/u/1") == (FOUND, "z", {"b": 1})


@pytest.mark.parametrize(
    "pattern",
    ["no-slash", "/a/<bogus:x>", "/a/<x>/<x>", "/a/<x"],
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(pattern)


def test_lookup_does_not_scan_all_routes() -> None:
    router = Router()
    for i in range(1000):
        router.add(f"/r{i}/<int:id>", ["GET"], i)
    assert router.match("GET", "/r999/5") == (FOUND, 999, {"id": 5})
    assert len(router._root.static) == 1000  # one hash lookup per segment, not a list of 1000
