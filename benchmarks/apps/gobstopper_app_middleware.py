"""The hello-world app behind one pass-through middleware.

``benchmarks/instructions.py`` compares it with ``gobstopper_app`` (what the middleware pipeline itself costs a
request) and with ``gobstopper_app_security`` (what SecurityMiddleware costs beyond that).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gobstopper import Request, Response

from .gobstopper_app import app


async def pass_through(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    return await call_next(request)


app.add_middleware(pass_through, priority=1000)
