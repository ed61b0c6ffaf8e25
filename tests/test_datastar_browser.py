"""The Datastar examples in a real headless Chromium, served by real granian RSGI and uvicorn servers.

The page loads the vendored Datastar client from the server itself (no internet); a click posts to the server,
whose answer is a ``datastar-patch-elements`` event over SSE that morphs the count into the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_tests.browser import artifact_path
from compat_tests.harness import RealServer, ServerKey

pytestmark = pytest.mark.servers


def _serve(kind: str, app: str, tmp_path: Path) -> Iterator[RealServer]:
    server = RealServer(ServerKey(kind, app, "1"), tmp_path)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["granian-rsgi", "uvicorn"])
def counter_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealServer]:
    yield from _serve(request.param, "datastar_counter:app", tmp_path)


@pytest.fixture(params=["granian-rsgi", "uvicorn"])
def search_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealServer]:
    yield from _serve(request.param, "datastar_search:app", tmp_path)


def test_clicking_the_counter_updates_it_over_sse(counter_server: RealServer, page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(f"http://127.0.0.1:{counter_server.port}/")
    assert response is not None and response.status == 200
    count = page.locator("#count")
    start = int(count.inner_text())
    page.click("#increment")
    page.wait_for_function(f"document.getElementById('count').textContent.trim() === '{start + 1}'", timeout=10_000)
    page.click("#increment")
    page.click("#decrement")
    page.click("#increment")
    page.wait_for_function(f"document.getElementById('count').textContent.trim() === '{start + 2}'", timeout=10_000)
    shot = artifact_path(f"datastar-counter-{counter_server.key.kind}.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    assert errors == []


def test_typing_in_the_live_search_filters_the_list(search_server: RealServer, page) -> None:
    page.goto(f"http://127.0.0.1:{search_server.port}/")
    assert page.locator("#results li").count() == 24
    page.fill("#query", "berr")
    page.wait_for_function("document.querySelectorAll('#results li').length === 4", timeout=10_000)
    assert page.locator("#results li").all_inner_texts() == ["blackberry", "blueberry", "raspberry", "strawberry"]
    page.fill("#query", "zzz")
    page.wait_for_function("document.querySelector('#results li.none') !== null", timeout=10_000)
    page.screenshot(path=str(artifact_path(f"datastar-search-{search_server.key.kind}.png")))
