"""The task methods the reference documents on the app (``@app.task``, ``app.add_background_task()``,
``app.start_task_workers()``, ``app.task_queue``), as a mixin of ``Gobstopper``; they delegate to the extension."""

from __future__ import annotations


class TasksAppAPI:
    """The app's background-task methods."""
