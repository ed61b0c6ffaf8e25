"""Fixtures shared by the unit tests: the real headless Chromium of ``compat_tests/browser.py``."""

from compat_tests.browser import browser, page  # noqa: F401 - fixtures
