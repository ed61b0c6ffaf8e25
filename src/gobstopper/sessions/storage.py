"""Session storage: the interfaces every backend implements, and the file backend.

A backend stores one JSON-serialisable ``dict`` per session id. When the record holds ``expires_at`` (a POSIX
timestamp, set by :class:`~gobstopper.middleware.security.SecurityMiddleware`), the backend never returns it after
that time. Every backend checks the id's shape before using it as a key, file name or SQL parameter, so even a
caller that skipped the signature check cannot reach outside the store.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
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


class FileSessionStorage(BaseSessionStorage):
    """One JSON file per session in ``directory`` (created with mode 0700 if missing).

    Writes are atomic (a temporary file in the same directory, then ``os.replace``) and files are private
    (0600). The calls block, so :class:`SecurityMiddleware` runs them in a worker thread. Ids that do not look
    like ours are refused before any path is built, so ``../x`` can never name a file. The store is shared by
    the processes of one machine only; use Redis or PostgreSQL for several machines.

    Args:
        directory: where the session files live.
    """

    def __init__(self, directory: Path | str = "sessions") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, session_id: str) -> Path | None:
        if not valid_session_id(session_id):
            return None
        return self.directory / f"{session_id}.json"

    def load(self, session_id: str) -> dict[str, Any] | None:
        """Load a session record from its file; an expired record is removed."""
        path = self._path(session_id)
        if path is None:
            return None
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        if is_expired(record):
            self.delete(session_id)
            return None
        return record  # type: ignore[no-any-return]

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Write a session record atomically."""
        path = self._path(session_id)
        if path is None:
            raise ValueError("invalid session id")
        payload = json.dumps(data, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def delete(self, session_id: str) -> None:
        """Delete a session file."""
        path = self._path(session_id)
        if path is None:
            return
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def cleanup(self) -> None:
        """Remove expired session files (and temporary files left by a crash)."""
        now = time.time()
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith(".tmp-"):
                try:
                    if now - path.stat().st_mtime > 3600:
                        path.unlink()
                except OSError:
                    pass
                continue
            if not name.endswith(".json") or not valid_session_id(name[:-5]):
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    record = json.load(f)
            except (OSError, ValueError):
                continue
            if is_expired(record, now):
                try:
                    path.unlink()
                except OSError:
                    pass


def _memory_storage() -> type[BaseSessionStorage]:
    from .memory_storage import MemorySessionStorage

    return MemorySessionStorage


def __getattr__(name: str) -> Any:
    # The reference imports MemorySessionStorage from this module.
    if name == "MemorySessionStorage":
        return _memory_storage()
    raise AttributeError(name)


__all__ = [
    "AsyncBaseSessionStorage",
    "BaseSessionStorage",
    "FileSessionStorage",
    "is_expired",
    "maybe_await",
    "valid_session_id",
]
