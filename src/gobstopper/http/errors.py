"""HTTP errors raised by handlers and by the framework itself."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .response import Response


def status_phrase(status: int) -> str:
    """The standard reason phrase for ``status`` (``"Unknown Status"`` for codes without one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


class HTTPException(Exception):
    """An HTTP error answer, raised anywhere in a request to stop it (``abort`` raises one).

    Args:
        status_code: the HTTP status, 400–599.
        description: a human-readable explanation sent to the client (``detail`` of the problem document).
        response: a ready response to send instead of the default error rendering.
        headers: extra headers for the default rendering (e.g. ``Allow`` on 405, ``Retry-After`` on 429).

    Example:
        >>> raise HTTPException(404, "User not found")
    """

    def __init__(
        self,
        status_code: int,
        description: str | None = None,
        response: Response | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not 100 <= int(status_code) <= 599:
            raise ValueError(f"invalid HTTP status {status_code!r}")
        self.status_code = int(status_code)
        self.description = description if description is not None else status_phrase(self.status_code)
        self.response = response
        self.headers = headers
        super().__init__(self.status_code, self.description)

    @property
    def code(self) -> int:
        """Alias of ``status_code`` (Werkzeug's name)."""
        return self.status_code

    @property
    def status(self) -> int:
        """Alias of ``status_code``."""
        return self.status_code

    def __str__(self) -> str:
        return f"{self.status_code} {status_phrase(self.status_code)}: {self.description}"


class BadRequest(HTTPException):
    """400: the request is malformed (bad path parameter, bad Host header, undecodable body...)."""

    def __init__(self, description: str | None = None, **kwargs: Any) -> None:
        super().__init__(400, description, **kwargs)


class NotFound(HTTPException):
    """404: no route matches the path."""

    def __init__(self, description: str | None = None, **kwargs: Any) -> None:
        super().__init__(404, description or "The requested URL was not found on this server.", **kwargs)


class MethodNotAllowed(HTTPException):
    """405: the path exists but not for this method; ``allowed`` feeds the ``Allow`` header."""

    def __init__(self, allowed: frozenset[str] | set[str], description: str | None = None) -> None:
        self.allowed = frozenset(allowed)
        super().__init__(
            405,
            description or "The method is not allowed for the requested URL.",
            headers={"Allow": ", ".join(sorted(self.allowed))},
        )


class RequestTimeout(HTTPException):
    """408: the client stopped sending the request body (no data for ``timeout`` seconds).

    RFC 9110 §15.5.9: the connection's framing is out of step after an unfinished body, so the answer carries
    ``Connection: close`` and the server closes the connection once it is sent.
    """

    def __init__(self, timeout: float | None = None) -> None:
        detail = "The request body was not received in time."
        if timeout is not None:
            detail = f"The request body was not received in time (no data for {timeout:g} s)."
        super().__init__(408, detail, headers={"Connection": "close"})


class RequestTooLarge(HTTPException):
    """413: the request body is larger than the configured limit."""

    def __init__(self, limit: int | None = None) -> None:
        detail = "The request body is too large." if limit is None else f"The request body exceeds {limit} bytes."
        super().__init__(413, detail)


class UnsupportedMediaType(HTTPException):
    """415: the body's Content-Type is not one the endpoint accepts."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(415, description or "Unsupported media type.")


class BodyValidationError(HTTPException):
    """422: the body decoded but does not fit the expected model; ``errors`` lists what and where."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        self.errors = errors or []
        super().__init__(422, message)


class ServiceUnavailable(HTTPException):
    """503: the application is shutting down or not ready."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(503, description or "The server is shutting down.")


class ClientDisconnect(HTTPException):
    """The client went away (or broke the body's framing) while the body was being read.

    A 400 nobody may receive; it is an ordinary client error, not a server fault, so it is not logged as one.
    """

    def __init__(self, description: str | None = None) -> None:
        super().__init__(400, description or "The client disconnected while sending the body.")
