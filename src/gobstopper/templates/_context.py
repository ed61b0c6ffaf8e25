"""The request a template renders for, without Jinja2 (imported by apps that set up templates only)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

_request: contextvars.ContextVar[Any] = contextvars.ContextVar("gobstopper_template_request", default=None)


def current_request() -> Any:
    """The request being handled in this task (``None`` outside one, or when templates are not set up)."""
    return _request.get()


def bind_request(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Awaitable[Any]:
    """Middleware (added by the templates extension): make ``request`` the current one for this request's task.

    A plain function returning ``call_next``'s awaitable: one call, no extra coroutine frame per request. Each
    request runs in its own task (every server and the test client), so the value never leaks to another request.
    """
    _request.set(request)
    return call_next(request)
