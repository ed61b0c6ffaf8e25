"""Hold the fake Granian protocol (gobstopper.testing.RSGITestClient) to real Granian.

A raw RSGI app exercises protocol corners (HEAD, 204/304, files, missing files, streams, no response, raised
errors, bad headers, double responses, body reads); the fake must answer exactly as `granian --interface rsgi`.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from compat_tests.harness import (
    HOST,
    InProcessTarget,
    Result,
    ServerKey,
    ServerPool,
    ServerTarget,
    assert_same,
    load_app,
)
from gobstopper.testing import RSGITestClient

APP_REF = "app_rawrsgi:app"

pytestmark = pytest.mark.servers

URLS = [
    "/bytes", "/str", "/empty", "/empty-cl", "/204", "/304", "/204-empty-cl", "/304-bytes", "/304-bytes-no-cl",
    "/bytes-cl", "/file", "/file-cl", "/file-missing", "/range", "/stream", "/none", "/raise", "/raise-after",
    "/crlf", "/cookies", "/twice", "/stream-after", "/nope",
]  # fmt: skip


@pytest.fixture(scope="module")
def granian(server_pool: ServerPool) -> Generator[ServerTarget, None, None]:
    target = ServerTarget(server_pool.get(ServerKey("granian-rsgi", APP_REF, "0")))
    yield target
    target.close()


@pytest.fixture(scope="module")
def fake() -> Generator[InProcessTarget, None, None]:
    client = RSGITestClient(load_app(APP_REF), base_url=f"http://{HOST}")
    with client:
        yield InProcessTarget("rsgi", "current", client, f"http://{HOST}")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("url", URLS)
def test_fake_answers_like_granian(granian: ServerTarget, fake: InProcessTarget, url: str, method: str) -> None:
    real = granian.request(method, url)
    mine = fake.request(method, url)
    assert_same(mine, real)


def test_app_exception_kept_by_fake(fake: InProcessTarget) -> None:
    fake.get("/raise")
    assert isinstance(fake.client.last_exception, ValueError)


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("/read-twice", {"content": b"x" * 1000}),
        ("/iter", {"content": b"y" * 300_000}),
        ("/scope/a%2Fb/caf%C3%A9/%2541?x=%20y&z=1", {"headers": [("X-Dup", "one"), ("x-dup", "two")]}),
    ],
)
def test_request_side_like_granian(granian: ServerTarget, fake: InProcessTarget, url: str, kwargs: dict) -> None:
    method = "GET" if url.startswith("/scope") else "POST"
    real: Result = granian.request(method, url, **kwargs)
    mine = fake.request(method, url, **kwargs)
    assert real.status == 200, real
    assert_same(mine, real)
