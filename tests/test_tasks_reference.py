"""The reference's task examples (README, PyPI page, app-core guide, API reference), as written there; only
undefined helpers (mail services...) are stubbed, and tasks run on the in-memory backend."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from gobstopper import Gobstopper, TaskPriority, should_run_background_workers
from gobstopper.tasks.models import TaskStatus
from gobstopper.testing import TestClient

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def memory_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_TASKS_DATABASE", "memory")
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "0")  # off, and restored after the test (one sets it by hand)
    for name in ("GOBSTOPPER_FORCE_WORKERS", "GRANIAN_WORKER_ID", "GUNICORN_WORKER_ID"):
        monkeypatch.delenv(name, raising=False)


def wait_done(client: TestClient, app: Gobstopper, task_id: str) -> Any:
    for _ in range(500):
        info = client.portal.call(app.task_queue.get_task_info, task_id)
        if info is not None and info.is_completed:
            return info
        client.portal.call(asyncio.sleep, 0.01)
    raise AssertionError(f"task {task_id} did not finish")


def test_pypi_page_background_tasks() -> None:
    app = Gobstopper(__name__)
    # Enable background tasks (required)
    os.environ["GOBSTOPPER_TASKS_ENABLED"] = "1"

    @app.task("send_email", "notifications")
    async def send_email(to: str, subject: str):
        # Task implementation
        return {"status": "sent"}

    @app.get("/signup")
    async def signup(request):
        # Queue tasks
        task_id = await app.add_background_task(
            "send_email", "notifications", TaskPriority.HIGH, to="user@example.com", subject="Welcome!"
        )
        return {"task_id": task_id}

    # Start workers (only in main process when using multiple workers)
    @app.on_startup
    async def startup():
        if should_run_background_workers():
            await app.start_task_workers("notifications", worker_count=2)

    with TestClient(app) as client:
        task_id = client.get("/signup").json()["task_id"]
        info = wait_done(client, app, task_id)
    assert info.status is TaskStatus.SUCCESS and info.result == {"status": "sent"}
    assert info.priority is TaskPriority.HIGH and info.kwargs == {"to": "user@example.com", "subject": "Welcome!"}


def test_app_core_guide_queueing_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "1")
    from gobstopper.tasks.queue import TaskPriority

    app = Gobstopper(__name__)
    sent: list[tuple[str, str, str]] = []

    class MailService:
        async def send(self, to: str, subject: str, body: str) -> None:
            sent.append((to, subject, body))

    mail_service = MailService()

    @app.task("send_email", category="notifications")
    async def send_email(to: str, subject: str, body: str):
        # Send email logic
        await mail_service.send(to, subject, body)
        return {"status": "sent", "to": to}

    @app.post("/send-email")
    async def queue_email(request):
        data = await request.json()
        task_id = await app.add_background_task(
            "send_email",
            category="notifications",
            priority=TaskPriority.HIGH,
            max_retries=3,
            to=data["email"],
            subject=data["subject"],
            body=data["message"],
        )
        return {"task_id": task_id}

    @app.get("/tasks/<task_id>")
    async def get_task_status(request, task_id):
        status = await app.task_queue.get_task_status(task_id)
        return {"task_id": task_id, "status": status}

    @app.on_startup
    async def start_background_workers():
        # Start workers for different categories
        await app.start_task_workers("notifications", worker_count=3)

    with TestClient(app) as client:
        payload = {"email": "a@example.com", "subject": "Hi", "message": "Hello"}
        task_id = client.post("/send-email", json=payload).json()["task_id"]
        wait_done(client, app, task_id)
        assert client.get(f"/tasks/{task_id}").json() == {"task_id": task_id, "status": "success"}
    assert sent == [("a@example.com", "Hi", "Hello")]


def test_app_core_guide_complete_example_without_a_category(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide queues ``send_notification`` without its category: it goes to the registered one."""
    monkeypatch.setenv("GOBSTOPPER_TASKS_ENABLED", "1")
    app = Gobstopper(__name__)

    @app.task("send_notification", category="notifications")
    async def send_notification(user_id: int, message: str):
        # Notification logic
        return {"status": "sent", "user_id": user_id}

    @app.post("/api/notify")
    async def queue_notification(request):
        data = await request.json()
        task_id = await app.add_background_task(
            "send_notification", priority=TaskPriority.HIGH, user_id=data["user_id"], message=data["message"]
        )
        return {"task_id": task_id}

    @app.on_startup
    async def initialize():
        await app.start_task_workers("notifications", worker_count=2)

    with TestClient(app) as client:
        task_id = client.post("/api/notify", json={"user_id": 5, "message": "hi"}).json()["task_id"]
        info = wait_done(client, app, task_id)
    assert info.result == {"status": "sent", "user_id": 5} and info.category == "notifications"


def test_api_reference_task_queue_workflow() -> None:
    """``gobstopper.tasks.queue.TaskQueue``'s example (its ``max_retries=3, "user@example.com"`` is not valid
    Python: the address is passed by keyword here)."""
    from gobstopper.tasks.models import TaskPriority, TaskStatus
    from gobstopper.tasks.queue import TaskQueue

    async def main() -> None:
        # Enable and create queue
        queue = TaskQueue(enabled=True)

        # Register task functions
        @queue.register_task("send_email", category="notifications")
        async def send_email(to: str, subject: str, body: str):
            await asyncio.sleep(0.01)  # Simulate work
            return {"sent": True, "to": to}

        @queue.register_task("process_data", category="analytics")
        def process_data(data: dict):  # Sync functions work too
            return {"records": len(data)}

        await queue.start_workers("notifications", worker_count=3)
        await queue.start_workers("analytics", worker_count=5)
        task1 = await queue.add_task(
            "send_email",
            category="notifications",
            priority=TaskPriority.HIGH,
            max_retries=3,
            to="user@example.com",
            subject="Welcome",
            body="Thanks for signing up!",
        )
        task2 = await queue.add_task("process_data", "analytics", TaskPriority.NORMAL, 0, {"users": 1000})
        while True:
            info = await queue.get_task_info(task1)
            if info.is_completed:
                assert info.status == TaskStatus.SUCCESS and info.result == {"sent": True, "to": "user@example.com"}
                break
            await asyncio.sleep(0.01)
        while not (await queue.get_task_info(task2)).is_completed:
            await asyncio.sleep(0.01)
        assert (await queue.get_task_info(task2)).result == {"records": 1}
        stats = await queue.get_task_stats()
        assert stats["total"] == 2 and stats["by_status"] == {"success": 2}
        await queue.shutdown()

    asyncio.run(main())
