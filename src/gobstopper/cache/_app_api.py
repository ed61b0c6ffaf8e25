"""The cache methods the reference documents on the app (``app.init_cache_from_env()``, ``app.cache``), as a
mixin of ``Gobstopper``; they delegate to the extension."""

from __future__ import annotations

from typing import Any


class CacheAppAPI:
    """The app's cache methods."""

    #: The app's :class:`~gobstopper.cache.Cache`: None until :meth:`init_cache_from_env` (or an assignment).
    cache: Any = None

    def init_cache_from_env(self, *, redis: Any = None, **options: Any) -> Any:
        """Build the cache from ``GOBSTOPPER_CACHE_*`` variables (docs/cache.md), make it ``app.cache`` and tie it
        to the app's lifecycle (the ``cache`` extension); returns it.

        Args:
            redis: a ``redis.asyncio.Redis`` client to share as L2 (sessions and rate limits can use the same one).
            **options: :class:`~gobstopper.cache.Cache` keyword arguments, winning over the environment.

        Raises:
            gobstopper.cache.CacheConfigError: a malformed variable, or the reference's SurrealDB settings.

        Example:
            >>> cache = app.init_cache_from_env()
            >>> data = await cache.get_or_set("slow:data", ttl=30, factory=compute_expensive)
        """
        from . import CacheExtension, cache_from_env

        cache = cache_from_env(redis=redis, **options)
        extensions: dict[str, Any] = self.extensions  # type: ignore[attr-defined]
        extension = extensions.get("cache")
        if extension is None:
            self.register_extension(CacheExtension(cache))  # type: ignore[attr-defined]
        else:  # called again: the new cache replaces the old one
            extension.cache = cache
            extension.init_app(self)
        return cache
