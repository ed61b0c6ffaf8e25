"""The ``cache`` extension: ties a :class:`~gobstopper.cache.Cache` to an app's lifecycle (docs/extensions.md)."""

from __future__ import annotations

from typing import Any

from ._cache import Cache


class CacheExtension:
    """Registered as ``app.extensions["cache"]`` by ``app.init_cache_from_env()``.

    ``init_app`` sets ``app.cache``; ``startup()`` connects the cache to Redis (shared namespace versions,
    invalidations from other processes); ``shutdown()`` waits for background refreshes and closes it.

    Args:
        cache: the cache to manage.
    """

    name = "cache"

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def init_app(self, app: Any) -> None:
        """Make the cache ``app.cache``."""
        app.cache = self.cache

    async def startup(self) -> None:
        """Connect to Redis if the cache has an L2 (a Redis that is down is a warning, not a failed start)."""
        await self.cache.start()

    async def shutdown(self) -> None:
        """Let background refreshes finish, then stop listening and close the cache's own Redis client."""
        await self.cache.flush()
        await self.cache.close()


__all__ = ["CacheExtension"]
