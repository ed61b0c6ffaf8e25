"""Per-request body limits as middleware (for a group of routes, or a whole app, without touching handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response


class LimitsMiddleware:
    """Set the body limits of every request it wraps.

    Limits apply while the body streams: a ``Content-Length`` over the limit is a 413 before a byte is read,
    a chunked body is a 413 as soon as the count passes it. Struct-annotated handler parameters are decoded
    after middleware, so they obey these limits too.

    Args:
        max_body_bytes: the body limit in bytes (``None`` keeps the route's or app's).
        max_json_depth: the nesting limit for JSON bodies (deeper is a 400).

    Example:
        >>> app.add_middleware(LimitsMiddleware(max_body_bytes=64 * 1024), priority=90)
    """

    def __init__(self, max_body_bytes: int | None = None, max_json_depth: int | None = None) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, request: Request, call_next: Any) -> Response:
        if self.max_body_bytes is not None:
            request.max_body_bytes = self.max_body_bytes
        if self.max_json_depth is not None:
            request.max_json_depth = self.max_json_depth
        return await call_next(request)
