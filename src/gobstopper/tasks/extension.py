"""The ``tasks`` extension: one :class:`~gobstopper.tasks.queue.TaskQueue` per app, stopped with the app.

``@app.task``, ``app.add_background_task()``, ``app.start_task_workers()`` and ``app.task_queue`` create it on first
use (so ``GOBSTOPPER_TASKS_ENABLED`` is read then, once); register one yourself to configure the queue::

    app.register_extension(TasksExtension(TaskQueue(enabled=True, storage_factory=MemoryTaskStorage)))
"""

from __future__ import annotations

from typing import Any

from .queue import TaskQueue

__all__ = ["TasksExtension"]


class TasksExtension:
    """Holds the app's task queue; its ``shutdown()`` stops the workers after the app's ``on_shutdown`` handlers
    (running tasks get the queue's ``shutdown_timeout``, then their leases are released).

    Args:
        queue: the queue to use; a new ``TaskQueue()`` (configured from the environment) when omitted.
    """

    name = "tasks"

    def __init__(self, queue: TaskQueue | None = None) -> None:
        self.queue = queue if queue is not None else TaskQueue()
        self.app: Any = None

    def init_app(self, app: Any) -> None:
        """Remember the app (nothing is registered on it)."""
        self.app = app

    async def shutdown(self) -> None:
        """Stop this process's workers and close the storage."""
        await self.queue.shutdown()
