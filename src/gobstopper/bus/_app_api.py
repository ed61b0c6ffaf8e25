"""The bus methods of the app (``app.init_bus()``, ``app.bus``), as a mixin of ``Gobstopper``; they delegate to
the ``bus`` extension."""

from __future__ import annotations

from typing import Any


class BusAppAPI:
    """The app's message-bus methods (docs/scaling.md)."""

    #: The app's :class:`~gobstopper.bus.MessageBus`: None until :meth:`init_bus` (or ``register_extension``).
    bus: Any = None

    def init_bus(self, url: str | None = None, *, redis: Any = None, **options: Any) -> Any:
        """Set up the app's message bus, which carries WebSocket room broadcasts and SSE topics to every worker
        and host; returns it (also ``app.bus``).

        Args:
            url: ``redis://host:6379/0`` (``rediss://``, ``unix://``) or ``memory://`` (this process only); when
                None, ``GOBSTOPPER_BUS_URL``, else ``memory://``.
            redis: or a ``redis.asyncio.Redis`` client to share (``decode_responses=False``); the bus's own client
                is ``app.bus.redis``, to give to sessions, rate limits and the cache.
            **options: :class:`~gobstopper.bus.MessageBus` keywords (``prefix``, ``timeout``, ``retry_initial``,
                ``retry_max``, ``history``).

        Raises:
            ValueError: an unknown URL scheme, or both ``url`` and ``redis``.

        Example:
            >>> app.init_bus("redis://127.0.0.1:6379/0")
            >>> app.init_cache_from_env(redis=app.bus.redis)  # one Redis client for the bus and the cache
        """
        from ._bus import MessageBus, bus_from_env
        from ._extension import BusExtension

        if url is None and redis is None:
            bus = bus_from_env(**options)
        else:
            bus = MessageBus(url, redis=redis, **options)
        extensions: dict[str, Any] = self.extensions  # type: ignore[attr-defined]
        extension = extensions.get("bus")
        if extension is None:
            self.register_extension(BusExtension(bus))  # type: ignore[attr-defined]
        else:  # called again: the new bus replaces the old one
            extension.bus = bus
            extension.init_app(self)
        return bus
