"""Session storage interfaces: what every backend implements, and the checks they share.

A backend stores one JSON-serialisable ``dict`` per session id. When the record holds ``expires_at`` (a POSIX
timestamp, set by :class:`~gobstopper.middleware.security.SecurityMiddleware`), the backend never returns it after
that time. Every backend checks the id's shape before using it as a key, file name or SQL parameter, so even a
caller that skipped the signature check cannot reach outside the store.
"""

from __future__ import annotations

import inspect
import re
import time
from abc import ABC, abstractmethod
from typing import Any

#: What a session id looks like: ``secrets.token_urlsafe(32)`` gives 43 characters of this alphabet.
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")


def valid_session_id(session_id: object) -> bool:
    """Whether ``session_id`` has the shape of an id we issue (charset and length)."""
    return isinstance(session_id, str) and SESSION_ID_RE.fullmatch(session_id) is not None


def is_expired(record: dict[str, Any] | None, now: float | None = None) -> bool:
    """Whether a stored record carries an ``expires_at`` in the past."""
    if not isinstance(record, dict):
        return True
    expires = record.get("expires_at")
    if expires is None:
        return False
    try:
        return float(expires) <= (time.time() if now is None else now)
    except (TypeError, ValueError):
        return True


class BaseSessionStorage(ABC):
    """A synchronous session store.

    Attributes:
        blocking: whether calls may block (file or network I/O); the middleware then runs them in a worker
            thread so the event loop never waits on them.
    """

    blocking: bool = True

    @abstractmethod
    def load(self, session_id: str) -> dict[str, Any] | None:
        """Load a session record, or None when it does not exist or has expired."""

    @abstractmethod
    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Create or replace a session record."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Delete a session record (no error when it does not exist)."""

    @abstractmethod
    def cleanup(self) -> None:
        """Remove expired records."""


class AsyncBaseSessionStorage(ABC):
    """An asynchronous session store (Redis, PostgreSQL)."""

    @abstractmethod
    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Load a session record, or None when it does not exist or has expired."""

    @abstractmethod
    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Create or replace a session record."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Delete a session record (no error when it does not exist)."""

    async def cleanup(self) -> None:  # noqa: B027 - optional: most async stores expire records themselves
        """Remove expired records (no-op for stores with native expiry)."""


async def maybe_await(result: Any) -> Any:
    """``await result`` when it is awaitable, else return it."""
    if inspect.isawaitable(result):
        return await result
    return result
