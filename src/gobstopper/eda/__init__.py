"""Event primitives: publish events by type, durable storage, handlers run as tasks, dead letters and replay.

``docs/events.md`` is the guide. Built on :mod:`gobstopper.tasks` (same storage backends, same delivery rules).
"""

from ..tasks._backend import DeadLetter
from .bus import DELIVER_TASK, EventBus, EventHandler, replay_dead_letter
from .models import EventEnvelope, new_event

__all__ = ["DELIVER_TASK", "DeadLetter", "EventBus", "EventEnvelope", "EventHandler", "new_event", "replay_dead_letter"]
