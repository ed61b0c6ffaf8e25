"""The ``bus`` extension: ties a :class:`~gobstopper.bus.MessageBus` to an app's lifecycle (docs/extensions.md)."""

from __future__ import annotations

from typing import Any

from ._bus import MessageBus


class BusExtension:
    """Registered as ``app.extensions["bus"]`` by ``app.init_bus()`` (or ``app.register_extension(BusExtension(bus))``).

    ``init_app`` makes the bus ``app.bus`` and the bus of ``app.websocket_manager``; ``startup()`` connects it
    (a Redis that is down is a warning: the bus delivers locally and keeps retrying); ``shutdown()`` closes it.

    Args:
        bus: the bus to manage (``memory://`` when None).
    """

    name = "bus"

    def __init__(self, bus: MessageBus | None = None) -> None:
        self.bus = bus if bus is not None else MessageBus()

    def init_app(self, app: Any) -> None:
        """Make the bus ``app.bus``."""
        app.bus = self.bus

    async def startup(self) -> None:
        """Connect (Redis): wait up to the bus's ``timeout`` for its subscription."""
        await self.bus.start()

    async def shutdown(self) -> None:
        """Stop listening and close the client the bus made."""
        await self.bus.close()


__all__ = ["BusExtension"]
