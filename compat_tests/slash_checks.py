"""Shared assertions for the slash-policy modules (each module runs against its own app)."""

from __future__ import annotations

from urllib.parse import urlsplit

from compat_tests.harness import HOST, Result, Target


def assert_redirect(r: Result, path_and_query: str) -> None:
    assert r.status == 308, r
    location = r.header("location")
    assert location is not None, r
    parts = urlsplit(location)
    assert parts.netloc in ("", HOST), f"redirect leaves the host: {location!r}"
    assert (parts.path + ("?" + parts.query if parts.query else "")) == path_and_query, location


def assert_no_open_redirect(r: Result) -> None:
    """docs/hardening.md row 37: a Location never begins with // or /\\ and never names another host."""
    if r.status in (301, 302, 303, 307, 308):
        location = r.header("location") or ""
        assert not location.startswith(("//", "/\\", "\\")), f"open redirect: {location!r}"
        assert urlsplit(location).netloc in ("", HOST), f"open redirect: {location!r}"
        assert "evil.example" not in urlsplit(location).netloc
    else:
        assert r.status in (200, 400, 404), r


EVIL_TARGETS = [
    "//evil.example/x",
    "//evil.example/x/",
    "/\\evil.example/x",
    "/%2Fevil.example/x",  # decoded by the server to //evil.example/x
    "/%2F%2Fevil.example/x/",
    "/%5Cevil.example/x",
    "///evil.example/x",
]


def raw_get(target: Target, path: str) -> Result:
    return target.raw(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
