"""Redis session storage through ``redis.asyncio`` (``pip install gobstopper[redis]``): shared by every worker
and machine, expiry done by Redis (``SET … EX``)."""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec

from .base import AsyncBaseSessionStorage, valid_session_id


class AsyncRedisSessionStorage(AsyncBaseSessionStorage):
    """Sessions as Redis strings ``{key_prefix}{session_id}`` holding JSON, each with a Redis expiry.

    The expiry is the record's ``expires_at`` when it has one (capped by ``ttl``), else ``ttl`` seconds.

    Args:
        client: a ``redis.asyncio.Redis`` client (``Redis.from_url("redis://localhost")``).
        key_prefix: prefix of every key.
        ttl: the longest a record lives, in seconds.

    Example:
        >>> from redis.asyncio import Redis
        >>> storage = AsyncRedisSessionStorage(client=Redis.from_url("redis://127.0.0.1:6379/0"))
    """

    def __init__(self, client: Any, key_prefix: str = "session:", ttl: int = 604800) -> None:
        if client is None:
            raise ValueError("AsyncRedisSessionStorage needs a redis.asyncio client")
        self.client = client
        self.key_prefix = key_prefix
        self.ttl = int(ttl)

    def _key(self, session_id: str) -> str:
        return self.key_prefix + session_id

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The record, or None when missing, expired or the id is malformed."""
        if not valid_session_id(session_id):
            return None
        raw = await self.client.get(self._key(session_id))
        if raw is None:
            return None
        try:
            record = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return None
        return record if isinstance(record, dict) else None

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        """``SET key json EX seconds``."""
        if not valid_session_id(session_id):
            raise ValueError("invalid session id")
        seconds = self.ttl
        expires = data.get("expires_at")
        if expires is not None:
            seconds = min(seconds, math.ceil(float(expires) - time.time()))
        if seconds <= 0:
            await self.delete(session_id)
            return
        await self.client.set(self._key(session_id), msgspec.json.encode(data), ex=seconds)

    async def delete(self, session_id: str) -> None:
        """``DEL key``."""
        if valid_session_id(session_id):
            await self.client.delete(self._key(session_id))

    async def cleanup(self) -> None:
        """Nothing to do: Redis expires the keys itself."""


__all__ = ["AsyncRedisSessionStorage"]
