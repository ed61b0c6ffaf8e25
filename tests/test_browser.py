"""The page-test setup itself: a real headless Chromium loads a page from a real granian RSGI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_tests.browser import artifact_path
from compat_tests.harness import RealServer, ServerKey

pytestmark = pytest.mark.servers


@pytest.fixture
def hello_server(tmp_path: Path) -> Iterator[RealServer]:
    server = RealServer(ServerKey("granian-rsgi", "hello:app", "1"), tmp_path)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_chromium_renders_a_page_served_by_granian_rsgi(hello_server: RealServer, page) -> None:
    response = page.goto(f"http://127.0.0.1:{hello_server.port}/")
    assert response is not None and response.status == 200
    assert "Hello" in page.content()
    shot = artifact_path("browser-hello.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
