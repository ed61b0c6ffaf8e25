"""Request parsing: host validation, cookies, proxies, query caps and body limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.adapter import Connection
from gobstopper.adapters.asgi import RawHeaders
from gobstopper.adapters.rsgi import parse_host_port
from gobstopper.http.errors import BadRequest, BodyValidationError, HTTPException, RequestTooLarge
from gobstopper.http.request import Request, decode_json


class FakeSource:
    """A RequestSource over plain values, counting how often the body is pulled."""

    def __init__(self, headers: list[tuple[str, str]], chunks: list[bytes] = (), qs: str = "",
                 client: tuple[str, int] | None = ("10.0.0.1", 5000), http_version: str = "1.1",
                 authority: str | None = None) -> None:  # fmt: skip
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers]
        self.chunks = list(chunks)
        self.pulled = 0
        self.qs = qs
        self.client = client
        self.http_version = http_version
        self.authority = authority

    def query_string(self, scope: Any) -> str:
        return self.qs

    def headers(self, scope: Any) -> RawHeaders:
        return RawHeaders(self._headers)

    def raw_headers(self, scope: Any) -> list[tuple[bytes, bytes]]:
        return self._headers

    def connection(self, scope: Any) -> Connection:
        return Connection("http", self.client, ("127.0.0.1", 8000), self.http_version, self.authority)

    def scheme(self, scope: Any) -> str:
        return "http"

    async def body(self, scope: Any, channel: Any) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


def request(headers=(), app: Gobstopper | None = None, **kwargs: Any) -> Request:
    app = app or Gobstopper("t")
    return Request("GET", "/", None, None, FakeSource(list(headers), **kwargs), app, app.settings.http)


@pytest.mark.parametrize(
    ("headers", "kwargs", "expected"),
    [
        ([("host", "example.com")], {}, "example.com"),
        ([("host", "example.com:8080")], {}, "example.com:8080"),
        ([("host", "[::1]:8000")], {}, "[::1]:8000"),
        ([], {"http_version": "2", "authority": "h2.example"}, "h2.example"),
        ([], {"http_version": "1.0"}, "127.0.0.1:8000"),
    ],
)
def test_host(headers: list[tuple[str, str]], kwargs: dict[str, Any], expected: str) -> None:
    assert request(headers, **kwargs).host == expected


@pytest.mark.parametrize(
    "headers",
    [
        [("host", "a.example"), ("host", "b.example")],
        [("host", "example.com@evil.tld")],
        [("host", "a/admin?")],
        [("host", "exa mple.com")],
        [],
    ],
)
def test_bad_host_is_a_400(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        request(headers).host


def test_trusted_hosts() -> None:
    app = Gobstopper("t")
    app.trusted_hosts = frozenset({"good.example"})
    assert request([("host", "good.example:80")], app=app).host == "good.example:80"
    with pytest.raises(BadRequest):
        request([("host", "evil.example")], app=app).url


def test_cookies_join_split_headers_ignore_nameless_and_first_wins() -> None:
    r = request([("cookie", "=__Host-sid=evil; __Host-sid=good"), ("cookie", "theme=dark; theme=light")])
    assert r.cookies == {"__Host-sid": "good", "theme": "dark"}


def test_too_many_cookies_is_431_and_parsing_is_linear() -> None:
    app = Gobstopper("t")
    app.max_header_bytes = 1024 * 1024  # past the header caps, the cookie cap answers
    with pytest.raises(HTTPException) as info:
        request([("cookie", "; ".join(f"c{i}=1" for i in range(3000)))], app=app).cookies
    assert info.value.status_code == 431
    assert request([("cookie", "a=" + "\\" * 20000)], app=app).cookies["a"] == "\\" * 20000


@pytest.mark.parametrize(
    "headers",
    [
        [("x-big", "a" * 100_000)],
        [(f"x-{i}", "1") for i in range(101)],
        [("accept-language", "en," * 17_000)],
        [("cookie", "a=" + "b" * 64 * 1024)],
    ],
)
def test_header_caps_are_431(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(HTTPException) as info:
        request(headers).header("host")
    assert info.value.status_code == 431


def test_client_ip_ignores_forwarded_for_unless_from_a_trusted_proxy() -> None:
    spoofed = [("x-forwarded-for", "6.6.6.6")]
    assert request(spoofed).client_ip == "10.0.0.1"
    app = Gobstopper("t")
    app.trusted_proxies = ["10.0.0.0/8"]
    chain = [("x-forwarded-for", "1.2.3.4, 10.0.0.7"), ("x-forwarded-proto", "https")]
    r = request(chain, app=app)
    assert (r.client_ip, r.scheme) == ("1.2.3.4", "https")


def test_request_id_comes_from_a_trusted_proxy_only_and_must_be_visible_ascii() -> None:
    given = [("x-request-id", "abc-123")]
    untrusted = request(given)
    assert untrusted.id != "abc-123" and len(untrusted.id) == 32
    app = Gobstopper("t", trusted_proxies=["10.0.0.0/8"])
    assert request(given, app=app).id == "abc-123"
    assert request([("x-request-id", "a b")], app=app).id != "a b"
    assert request([("x-request-id", "x" * 201)], app=app).id != "x" * 201


def test_client_address_parsing_handles_ipv6() -> None:
    assert parse_host_port("[::1]:8000") == ("::1", 8000)
    assert parse_host_port("127.0.0.1:5") == ("127.0.0.1", 5)
    assert parse_host_port("/tmp/socket") is None


def test_args_keep_lists_and_cap_the_count() -> None:
    assert request(qs="a=1&a=2&b=").args == {"a": ["1", "2"], "b": [""]}
    with pytest.raises(BadRequest):
        request(qs="&".join(f"a{i}=1" for i in range(1001))).args


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    app = Gobstopper("t")
    app.max_body_bytes = 10
    r = request([("content-length", "100")], app=app, chunks=[b"x" * 100])
    with pytest.raises(RequestTooLarge):
        asyncio.run(r.get_data())
    assert r._source.pulled == 0


def test_streamed_body_over_the_limit_stops_as_soon_as_it_passes() -> None:
    app = Gobstopper("t")
    app.max_body_bytes = 10
    r = request(app=app, chunks=[b"x" * 6, b"x" * 6, b"x" * 6, b"x" * 6])
    with pytest.raises(RequestTooLarge):
        asyncio.run(r.get_data())
    assert r._source.pulled == 2


def test_body_is_cached_and_empty_chunks_skipped() -> None:
    r = request(chunks=[b"ab", b"", b"cd", b""])

    async def twice() -> tuple[bytes, bytes]:
        return await r.get_data(), await r.get_body()

    assert asyncio.run(twice()) == (b"abcd", b"abcd")


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":"\xff"}', b"{", b"nan", b'{"a":1} junk'])
def test_every_bad_json_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json(body)


class Inner(msgspec.Struct):
    age: int


class Outer(msgspec.Struct):
    user: Inner


def test_model_mismatch_is_a_422_naming_the_field() -> None:
    with pytest.raises(BodyValidationError) as info:
        decode_json(b'{"user": {"age": "x"}}', Outer)
    assert info.value.errors[0]["loc"] == "$.user.age"


def test_json_requires_a_json_content_type() -> None:
    from gobstopper.http.errors import UnsupportedMediaType

    assert request([("content-type", "application/vnd.api+json")]).is_json
    with pytest.raises(UnsupportedMediaType):
        asyncio.run(request([("content-type", "text/plain")], chunks=[b"{}"]).json())
    assert asyncio.run(request([("content-type", "application/json")], chunks=[b'{"a":1}']).json()) == {"a": 1}


def test_headers_keep_duplicates_case_insensitively() -> None:
    r = request([("X-A", "1"), ("x-a", "2")])
    assert r.headers.getlist("X-A") == ["1", "2"]
    assert r.headers["x-a"] == "1"
