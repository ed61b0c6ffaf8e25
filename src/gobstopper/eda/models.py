"""The event record: :class:`EventEnvelope`, with CloudEvents' attribute names (``id``, ``type``, ``source``,
``subject``, ``time``, ``data``; CloudEvents 1.0 spec, section 3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from ..tasks._backend import EventRecord, encode_json
from ..tasks.models import utcnow

__all__ = ["EventEnvelope", "new_event"]


class EventEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    """One published event, as handlers receive it.

    Attributes:
        id: unique per event (a UUID4 unless given).
        type: what happened, e.g. ``"user.created"``; handlers subscribe to types.
        source: who published it (default ``"gobstopper"``).
        subject: what it is about, e.g. a user id (optional).
        time: when it was published (naive UTC).
        data: the payload, as JSON carries it (msgspec).
        extensions: extra string attributes (trace ids...).
    """

    id: str
    type: str
    source: str = "gobstopper"
    subject: str | None = None
    time: datetime = msgspec.field(default_factory=utcnow)
    data: Any = None
    extensions: dict[str, str] = msgspec.field(default_factory=dict)

    def to_record(self) -> EventRecord:
        """The stored form (``data`` and ``extensions`` as JSON text). Raises ``TypeError`` for non-JSON data."""
        return EventRecord(
            id=self.id,
            type=self.type,
            source=self.source,
            subject=self.subject,
            time=self.time,
            data=encode_json(self.data),
            extensions=encode_json(self.extensions),
        )

    @classmethod
    def from_record(cls, record: EventRecord) -> EventEnvelope:
        """The envelope of a stored event."""
        return cls(
            id=record.id,
            type=record.type,
            source=record.source,
            subject=record.subject,
            time=record.time,
            data=msgspec.json.decode(record.data),
            extensions=msgspec.json.decode(record.extensions),
        )


def new_event(
    type: str,
    data: Any = None,
    *,
    source: str = "gobstopper",
    subject: str | None = None,
    id: str | None = None,
    extensions: dict[str, str] | None = None,
) -> EventEnvelope:
    """A new :class:`EventEnvelope` stamped now, with a fresh id unless ``id`` is given.

    Raises:
        ValueError: ``type`` is empty.
    """
    if not type:
        raise ValueError("an event needs a non-empty type")
    return EventEnvelope(
        id=id or str(uuid.uuid4()), type=type, source=source, subject=subject, data=data, extensions=extensions or {}
    )
