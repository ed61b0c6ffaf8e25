"""Durable background tasks: the ``tasks`` extension behind ``@app.task`` and ``app.add_background_task()``.

``docs/tasks.md`` is the guide: delivery semantics, the DuckDB / PostgreSQL / in-memory backends, the CLI.
"""

from .memory import MemoryTaskStorage
from .models import TaskInfo, TaskPriority, TaskStatus
from .queue import (
    NoopStorage,
    TaskNotRegistered,
    TaskQueue,
    current_task,
    set_progress,
    should_run_background_workers,
)
from .storage import TaskStorage

__all__ = [
    "MemoryTaskStorage",
    "NoopStorage",
    "TaskInfo",
    "TaskNotRegistered",
    "TaskPriority",
    "TaskQueue",
    "TaskStatus",
    "TaskStorage",
    "current_task",
    "set_progress",
    "should_run_background_workers",
]
