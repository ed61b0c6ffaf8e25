"""Gobstopper: a Flask-like async web framework for Granian RSGI, with the same behaviour under ASGI.

>>> from gobstopper import Gobstopper
>>> app = Gobstopper(__name__)
>>> @app.get("/")
... async def index(request):
...     return {"message": "Hello"}

Run it with ``gobstopper run app:app`` (Granian RSGI), ``granian --interface rsgi app:app`` or
``uvicorn app:app``; test it with ``gobstopper.testing.TestClient``.
"""

from .cache import CacheFacade, MemoryCacheStore, SurrealCacheStore, cache_from_env
from .core.app import Gobstopper
from .core.blueprint import Blueprint
from .http.errors import (
    BadRequest,
    BodyValidationError,
    HTTPException,
    NotFound,
    RequestTimeout,
    RequestTooLarge,
    UnsupportedMediaType,
)
from .http.file_storage import FileStorage, secure_filename
from .http.helpers import abort, jsonify, make_response, send_file, send_from_directory
from .http.negotiation import negotiate, negotiate_response
from .http.notifications import clear_notifications, get_notifications, notification, peek_notifications
from .http.problem import problem
from .http.request import Request
from .http.response import FileResponse, JSONResponse, Response, StreamResponse, redirect
from .middleware import CORSMiddleware, LimitsMiddleware, SecurityMiddleware, StaticFileMiddleware
from .sessions import FileSessionStorage, MemorySessionStorage
from .tasks import TaskInfo, TaskPriority, TaskQueue, TaskStatus, TaskStorage, should_run_background_workers
from .utils.idempotency import use_idempotency
from .utils.rate_limiter import TokenBucketLimiter, rate_limit
from .utils.redirects import is_safe_redirect
from .websocket import WebSocket, WebSocketDisconnect, WebSocketManager, WebSocketMessage

__version__ = "0.6.0"

__all__ = [
    "BadRequest",
    "Blueprint",
    "BodyValidationError",
    "CORSMiddleware",
    "CacheFacade",
    "FileResponse",
    "FileSessionStorage",
    "FileStorage",
    "Gobstopper",
    "HTTPException",
    "JSONResponse",
    "LimitsMiddleware",
    "MemoryCacheStore",
    "MemorySessionStorage",
    "NotFound",
    "Request",
    "RequestTimeout",
    "RequestTooLarge",
    "Response",
    "SecurityMiddleware",
    "StaticFileMiddleware",
    "StreamResponse",
    "SurrealCacheStore",
    "TaskInfo",
    "TaskPriority",
    "TaskQueue",
    "TaskStatus",
    "TaskStorage",
    "TokenBucketLimiter",
    "UnsupportedMediaType",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketManager",
    "WebSocketMessage",
    "abort",
    "cache_from_env",
    "clear_notifications",
    "get_notifications",
    "is_safe_redirect",
    "jsonify",
    "make_response",
    "negotiate",
    "negotiate_response",
    "notification",
    "peek_notifications",
    "problem",
    "rate_limit",
    "redirect",
    "secure_filename",
    "send_file",
    "send_from_directory",
    "should_run_background_workers",
    "use_idempotency",
    "__version__",
]
