"""In-memory session storage: bounded, for tests, development and single-process deployments."""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from typing import Any

from .base import BaseSessionStorage, is_expired, valid_session_id


class MemorySessionStorage(BaseSessionStorage):
    """Sessions in a process-local dictionary, bounded to ``max_sessions`` entries (least recently used go first).

    Not shared between Granian workers or machines, and lost on restart: use Redis or PostgreSQL for those.
    Records are copied in and out, so a handler mutating its session cannot change the stored one unseen.

    Args:
        max_sessions: the most records kept; beyond it the least recently used record is dropped.
    """

    blocking = False

    def __init__(self, max_sessions: int = 10_000) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def load(self, session_id: str) -> dict[str, Any] | None:
        """Return a copy of the record, or None (unknown, expired or malformed id)."""
        if not valid_session_id(session_id):
            return None
        with self._lock:
            record = self._data.get(session_id)
            if record is None:
                return None
            if is_expired(record):
                del self._data[session_id]
                return None
            self._data.move_to_end(session_id)
            return copy.deepcopy(record)

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Store a copy of the record, dropping the least recently used ones beyond the bound."""
        if not valid_session_id(session_id):
            raise ValueError("invalid session id")
        record = copy.deepcopy(data)
        with self._lock:
            self._data[session_id] = record
            self._data.move_to_end(session_id)
            while len(self._data) > self.max_sessions:
                self._data.popitem(last=False)

    def delete(self, session_id: str) -> None:
        """Forget a record."""
        with self._lock:
            self._data.pop(session_id, None)

    def cleanup(self) -> None:
        """Drop expired records."""
        now = time.time()
        with self._lock:
            for key in [k for k, v in self._data.items() if is_expired(v, now)]:
                del self._data[key]


__all__ = ["MemorySessionStorage"]
