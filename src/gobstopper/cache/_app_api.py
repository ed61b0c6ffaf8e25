"""The cache methods the reference documents on the app (``app.init_cache_from_env()``, ``app.cache``), as a
mixin of ``Gobstopper``; they delegate to the extension."""

from __future__ import annotations


class CacheAppAPI:
    """The app's cache methods."""
