"""Publish/subscribe on the task queue: :class:`EventBus` (the ``events`` extension).

Publishing stores the event and one *delivery task* per subscribed handler in one transaction, on the task queue's
storage (DuckDB, PostgreSQL or memory). Deliveries are ordinary tasks (category ``events`` by default): at least
once, leases, retries with backoff. A delivery that uses up its retries becomes a *dead letter* (event, handler,
error), listed by :meth:`EventBus.dead_letters` and ``gobstopper eda dlq list`` and delivered again by
:meth:`EventBus.replay_dead_letters` or ``gobstopper eda dlq replay``. Stored events can be replayed to their
handlers with :meth:`EventBus.replay`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..tasks._backend import DeadLetter
from ..tasks.models import TaskInfo, TaskPriority, TaskStatus, utcnow
from ..tasks.queue import TaskQueue
from .models import EventEnvelope, new_event

__all__ = ["DELIVER_TASK", "EventBus", "EventHandler", "replay_dead_letter"]

logger = logging.getLogger("gobstopper.eda")

#: The task that delivers one event to one handler; its arguments are (event id, handler name, event type).
DELIVER_TASK = "gobstopper.eda.deliver"

#: A handler takes the :class:`EventEnvelope`; sync handlers run in a thread.
EventHandler = Callable[[EventEnvelope], Any]


@dataclass
class _Subscription:
    name: str
    type: str
    func: EventHandler
    is_async: bool
    max_retries: int


async def replay_dead_letter(storage: Any, letter: DeadLetter, category: str = "events") -> str:
    """Deliver a dead letter again and remove it; returns the delivery task's id.

    The dead delivery task is put back with a fresh set of attempts; if it was cleaned up since, a new delivery task
    is added. Usable without an app (the CLI does).
    """
    if not await storage.requeue(letter.task_id):
        task = _delivery(letter.event_id, letter.handler, letter.event_type, category, 3)
        task.dedup_key = None  # a replay is deliberate
        letter_task = await storage.fetch(letter.task_id)
        if letter_task is not None:
            task.max_retries = letter_task.max_retries
        await storage.enqueue(task)
        task_id = task.id
    else:
        task_id = letter.task_id
    await storage.delete_dead_letter(letter.event_id, letter.handler)
    return task_id


def _delivery(event_id: str, handler: str, event_type: str, category: str, max_retries: int) -> TaskInfo:
    return TaskInfo(
        id=str(uuid.uuid4()),
        name=DELIVER_TASK,
        category=category,
        priority=TaskPriority.NORMAL,
        status=TaskStatus.PENDING,
        created_at=utcnow(),
        max_retries=max_retries,
        args=(event_id, handler, event_type),
        dedup_key=f"{event_id}:{handler}",
    )


class EventBus:
    """Events published by type to subscribed handlers, durably, through a task queue.

    Args:
        queue: the task queue to store events and deliveries in; the app's ``app.task_queue`` when omitted (then
            ``GOBSTOPPER_TASKS_ENABLED`` must be on).
        category: the task category of deliveries (their worker pool).
        max_retries: default retries of a delivery before it is dead-lettered.
        workers: deliveries run at once in this process, started with the app (0: start them yourself with
            :meth:`start`, or in a ``gobstopper run-tasks -c events`` process).
        source: the default ``source`` of published events.

    Example:
        >>> bus = app.register_extension(EventBus())
        >>> @bus.subscribe("user.created")
        ... async def welcome(event):
        ...     ...
        >>> await bus.publish("user.created", {"id": 1})
    """

    name = "events"

    def __init__(
        self,
        queue: TaskQueue | None = None,
        *,
        category: str = "events",
        max_retries: int = 3,
        workers: int = 0,
        source: str = "gobstopper",
    ) -> None:
        self.category = category
        self.max_retries = max_retries
        self.workers = workers
        self.source = source
        self.subscriptions: dict[str, _Subscription] = {}
        self.queue: TaskQueue | None = None
        self.app: Any = None
        if queue is not None:
            self._attach(queue)

    def _attach(self, queue: TaskQueue) -> None:
        self.queue = queue
        queue.register_task(DELIVER_TASK, self.category)(self._deliver)
        queue.on_dead(self._dead)

    def _queue(self) -> TaskQueue:
        if self.queue is None:
            raise RuntimeError("EventBus has no task queue: pass queue= or register it on an app")
        return self.queue

    # -- extension protocol ------------------------------------------------------------------------------

    def init_app(self, app: Any) -> None:
        """Use the app's task queue unless the bus has its own."""
        self.app = app
        if self.queue is None:
            self._attach(app.task_queue)

    async def startup(self) -> None:
        """Start ``workers`` delivery workers, when asked for."""
        if self.workers:
            await self.start(self.workers)

    # -- subscribing and publishing ----------------------------------------------------------------------

    def subscribe(
        self, type: str, *, name: str | None = None, max_retries: int | None = None
    ) -> Callable[[EventHandler], EventHandler]:
        """Decorator: call the function with every event of ``type`` (``"*"``: every type).

        Args:
            type: the event type.
            name: the handler's durable name (default ``module.qualname``); deliveries and dead letters refer to
                it, so keep it stable across deploys.
            max_retries: retries of a failed delivery before it becomes a dead letter (default: the bus's).

        Raises:
            ValueError: another handler already has that name.
        """

        def decorator(func: EventHandler) -> EventHandler:
            handler = name or f"{func.__module__}.{func.__qualname__}"
            if handler in self.subscriptions and self.subscriptions[handler].func is not func:
                raise ValueError(f"an event handler named {handler!r} is already subscribed")
            retries = self.max_retries if max_retries is None else max_retries
            self.subscriptions[handler] = _Subscription(handler, type, func, inspect.iscoroutinefunction(func), retries)
            return func

        return decorator

    def handlers_for(self, type: str) -> list[str]:
        """Names of the handlers an event of ``type`` goes to."""
        return [s.name for s in self.subscriptions.values() if s.type in (type, "*")]

    async def publish(
        self,
        type: str,
        data: Any = None,
        *,
        subject: str | None = None,
        source: str | None = None,
        id: str | None = None,
        extensions: dict[str, str] | None = None,
        connection: Any = None,
    ) -> EventEnvelope:
        """Store an event and its deliveries (one per subscribed handler) and return it.

        It returns once both are durable. Publishing the same ``id`` twice stores and delivers it once.

        Args:
            connection: an asyncpg connection: publish inside the caller's transaction (PostgreSQL only).

        Raises:
            RuntimeError: the task queue is disabled.
            TypeError: ``data`` is not JSON-encodable.
            ValueError: ``type`` is empty.
        """
        queue = self._queue()
        queue._require_enabled()
        event = new_event(type, data, source=source or self.source, subject=subject, id=id, extensions=extensions)
        record = event.to_record()
        deliveries = [
            _delivery(event.id, s.name, type, self.category, s.max_retries)
            for s in self.subscriptions.values()
            if s.type in (type, "*")
        ]
        await queue.storage.append_event(record, deliveries, connection=connection)
        return event

    async def start(self, worker_count: int = 1) -> None:
        """Run up to ``worker_count`` deliveries at a time in this process."""
        await self._queue().start_workers(self.category, worker_count)

    async def get_event(self, event_id: str) -> EventEnvelope | None:
        """A stored event, or None."""
        record = await self._queue().storage.get_event(event_id)
        return None if record is None else EventEnvelope.from_record(record)

    async def events(
        self, type: str | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> list[EventEnvelope]:
        """Stored events, oldest first."""
        records = await self._queue().storage.list_events(type=type, since=since, limit=limit, offset=offset)
        return [EventEnvelope.from_record(r) for r in records]

    # -- delivery ----------------------------------------------------------------------------------------

    async def _deliver(self, event_id: str, handler: str, event_type: str) -> None:
        subscription = self.subscriptions.get(handler)
        if subscription is None:
            raise LookupError(f"no event handler named {handler!r} in this process")
        record = await self._queue().storage.get_event(event_id)
        if record is None:
            raise LookupError(f"event {event_id} is not in the store")
        event = EventEnvelope.from_record(record)
        if subscription.is_async:
            await subscription.func(event)
        else:
            await asyncio.to_thread(subscription.func, event)

    async def _dead(self, task: TaskInfo) -> None:
        if task.name != DELIVER_TASK or len(task.args) != 3:
            return
        event_id, handler, event_type = task.args
        letter = DeadLetter(
            event_id=event_id,
            handler=handler,
            event_type=event_type,
            task_id=task.id,
            error=task.error,
            attempts=task.attempts,
            failed_at=utcnow(),
        )
        await self._queue().storage.put_dead_letter(letter)
        logger.warning("event %s (%s) dead-lettered for %s: %s", event_id, event_type, handler, task.error)

    # -- dead letters and replay -------------------------------------------------------------------------

    async def dead_letters(self, handler: str | None = None, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Deliveries that used up their retries, oldest first."""
        return list(await self._queue().storage.list_dead_letters(handler=handler, limit=limit, offset=offset))

    async def replay_dead_letters(self, handler: str | None = None, limit: int = 1000) -> int:
        """Deliver up to ``limit`` dead letters (of ``handler``, or all) again; returns how many."""
        letters = await self.dead_letters(handler=handler, limit=limit)
        for letter in letters:
            await replay_dead_letter(self._queue().storage, letter, self.category)
        return len(letters)

    async def replay(
        self, type: str | None = None, since: datetime | None = None, handler: str | None = None, limit: int = 1000
    ) -> int:
        """Deliver stored events (of ``type``, from ``since`` on) again to their current handlers (or only to
        ``handler``), in publication order; returns the number of deliveries added."""
        queue = self._queue()
        added = 0
        for record in await queue.storage.list_events(type=type, since=since, limit=limit):
            names = [n for n in self.handlers_for(record.type) if handler is None or n == handler]
            deliveries = [
                _delivery(record.id, n, record.type, self.category, self.subscriptions[n].max_retries) for n in names
            ]
            for task in deliveries:
                task.dedup_key = None  # a replay is deliberate, even while an earlier delivery is pending
                await queue.storage.enqueue(task)
            added += len(deliveries)
        return added
