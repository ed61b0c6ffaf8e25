"""The task methods the reference documents on the app (``@app.task``, ``app.add_background_task()``,
``app.start_task_workers()``, ``app.task_queue``), as a mixin of ``Gobstopper``; they delegate to the extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .models import TaskPriority

if TYPE_CHECKING:
    from .extension import TasksExtension
    from .queue import TaskQueue


class TasksAppAPI:
    """The app's background-task methods (``docs/tasks.md``)."""

    extensions: dict[str, Any]  # provided by the app, as is register_extension()
    register_extension: Callable[[Any], Any]

    def _tasks_extension(self) -> TasksExtension:
        extension = self.extensions.get("tasks")
        if extension is None:
            from .extension import TasksExtension

            extension = self.register_extension(TasksExtension())
        return extension  # type: ignore[no-any-return]

    @property
    def task_queue(self) -> TaskQueue:
        """The app's :class:`~gobstopper.tasks.queue.TaskQueue` (created on first use from the environment:
        ``GOBSTOPPER_TASKS_ENABLED``, ``GOBSTOPPER_TASKS_DATABASE``)."""
        return self._tasks_extension().queue

    @task_queue.setter
    def task_queue(self, queue: TaskQueue) -> None:
        extension = self._tasks_extension()
        if extension.queue.running_tasks or extension.queue.workers:
            raise RuntimeError("cannot replace the task queue while its workers run")
        extension.queue = queue

    def task(self, name: str | None = None, category: str = "default") -> Callable[[Callable[..., Any]], Any]:
        """Decorator: register a task function (sync functions run in a thread, async ones on the loop).

        Args:
            name: the task's name (default: the function's ``__name__``); unique across categories.
            category: the worker pool that runs it.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            return self.task_queue.register_task(name or func.__name__, category)(func)

        return decorator

    async def add_background_task(
        self,
        name: str,
        category: str | None = None,
        priority: TaskPriority | int = TaskPriority.NORMAL,
        max_retries: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """Queue task ``name`` and return its id; see :meth:`~gobstopper.tasks.queue.TaskQueue.add_task` for the
        keyword options (``delay``, ``eta``, ``timeout``, ``dedup_key``, ``connection``) and the errors.

        ``category`` defaults to the one the task was registered in.
        """
        return await self.task_queue.add_task(name, category, priority, max_retries, *args, **kwargs)

    async def start_task_workers(self, category: str = "default", worker_count: int = 1) -> None:
        """Run up to ``worker_count`` tasks of ``category`` at a time in this process, until the app shuts down."""
        await self.task_queue.start_workers(category, worker_count)
