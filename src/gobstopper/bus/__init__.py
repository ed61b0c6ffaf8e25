"""The cross-worker message bus: WebSocket room broadcasts and SSE topics that reach every worker and host.

``app.init_bus("redis://host:6379/0")`` (or ``GOBSTOPPER_BUS_URL``) sets it up; ``memory://`` keeps everything in
one process. docs/scaling.md says what is per process and what is shared.

>>> from gobstopper.bus import MessageBus, Topic, HISTORY_LOST_EVENT
"""

from ._bus import Callback, MessageBus, Responder, Subscription, active_bus, bus_from_env
from ._extension import BusExtension
from ._topics import HISTORY_LOST_EVENT, Topic, TopicSubscription, parse_event_id

__all__ = [
    "HISTORY_LOST_EVENT",
    "BusExtension",
    "Callback",
    "MessageBus",
    "Responder",
    "Subscription",
    "Topic",
    "TopicSubscription",
    "active_bus",
    "bus_from_env",
    "parse_event_id",
]
