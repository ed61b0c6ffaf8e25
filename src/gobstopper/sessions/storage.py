"""Session storage: the file backend, and the reference's import path for the others' interfaces.

A backend stores one JSON-serialisable ``dict`` per session id (``gobstopper.sessions.base`` has the interfaces).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .base import (
    SESSION_ID_RE,
    AsyncBaseSessionStorage,
    BaseSessionStorage,
    is_expired,
    maybe_await,
    valid_session_id,
)
from .memory_storage import MemorySessionStorage  # the reference imports it from this module


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


__all__ = [
    "SESSION_ID_RE",
    "AsyncBaseSessionStorage",
    "BaseSessionStorage",
    "FileSessionStorage",
    "MemorySessionStorage",
    "is_expired",
    "maybe_await",
    "valid_session_id",
]
