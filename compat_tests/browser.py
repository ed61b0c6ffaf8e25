"""A real headless Chromium for page tests (Debian's ``chromium``, driven by Playwright).

Playwright cannot download its own browsers here, so it is pointed at the system one. Screenshots go to
``test-artifacts/`` at the project root (git-ignored, kept by CI as artifacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def artifact_path(name: str) -> Path:
    """Where to keep an artifact called ``name`` (the folder is created on demand)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture
def browser() -> Iterator[object]:
    """A Chromium for one test; a missing browser fails the test (setup installs it), never skips it.

    Per test, not per session: Playwright's sync API keeps an event loop running in the main thread while it is
    started, and the in-process clients of other tests need to run their own.
    """
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed: run scripts/setup"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page (its own context: no cookies shared between tests)."""
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        yield context.new_page()
    finally:
        context.close()
