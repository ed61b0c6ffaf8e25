"""The real Redis and PostgreSQL that scripts/test starts for the suite (scripts/services)."""

from __future__ import annotations

import os

import pytest


def service_url(name: str) -> str:
    """The URL/DSN in environment variable ``name``; outside CI a missing one skips, in CI it fails the test."""
    value = os.environ.get(name)
    if value:
        return value
    message = f"{name} is not set: run the suite with scripts/test, which starts Redis and PostgreSQL"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)
