"""Durable background tasks: the ``tasks`` extension behind ``@app.task`` and ``app.add_background_task()``."""
