"""Problem details for HTTP APIs (RFC 9457) and the framework's default error rendering."""

from __future__ import annotations

import html
from typing import Any

from .errors import BodyValidationError, HTTPException, status_phrase
from .response import HTML, PROBLEM_JSON, JSONResponse, Response


def problem(
    status: int,
    detail: str | None = None,
    title: str | None = None,
    type: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response.

    Example:
        >>> problem(404, "No user 42", user_id=42)
    """
    body: dict[str, Any] = {"type": type, "title": title or status_phrase(status), "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status=status, headers=headers, content_type=PROBLEM_JSON)


def wants_html(accept: str | None) -> bool:
    """Whether a client asked for HTML (browsers do); API clients get problem+json."""
    return accept is not None and "text/html" in accept


def render_http_exception(exc: HTTPException, accept: str | None) -> Response:
    """The default answer for an :class:`HTTPException`: its own response, else HTML or problem+json."""
    if exc.response is not None:
        return exc.response
    status = exc.status_code
    if wants_html(accept):
        title = html.escape(f"{status} {status_phrase(status)}")
        body = (
            f"<!doctype html>\n<html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{html.escape(exc.description)}</p></body></html>\n"
        )
        response: Response = Response(body, status=status, content_type=HTML)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    extra: dict[str, Any] = {}
    if isinstance(exc, BodyValidationError) and exc.errors:
        extra["errors"] = exc.errors
    return problem(status, exc.description, headers=exc.headers, **extra)
