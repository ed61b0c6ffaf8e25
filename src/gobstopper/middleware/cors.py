"""Cross-Origin Resource Sharing: preflight answers on any path and exact origin matching."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from ..http.headers import add_vary
from ..http.response import Response

if TYPE_CHECKING:
    from ..http.request import Request

_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class CORSMiddleware:
    """Answer CORS preflights and add ``Access-Control-*`` headers to cross-origin answers.

    Add it as app middleware (``app.add_middleware(CORSMiddleware(...), priority=90)``): app middleware also sees
    404/405 and automatic OPTIONS answers, so a preflight works on every route, including routes that did not
    register OPTIONS.

    Origins match exactly (``https://app.example.com``; scheme, host and port), or by ``origin_regex``, which
    must match the whole origin (``https://example.com.evil.com`` does not pass ``https://.*\\.example\\.com``).
    ``Origin: null`` never passes unless ``"null"`` is listed. Every answer carries ``Vary: Origin``. A
    disallowed preflight is a 400 without ``Access-Control-Allow-Origin``.

    Args:
        origins: allowed origins; ``["*"]`` (the default) allows any origin, without credentials.
        methods: allowed methods (``GET, POST, PUT, DELETE, OPTIONS`` by default; ``["*"]`` for any).
        headers: allowed request headers (``Content-Type, Authorization`` by default, plus the CORS-safelisted
            ones; ``["*"]`` for any).
        allow_credentials: allow cookies and HTTP authentication. Needs explicit origins: ``"*"`` with
            credentials is refused with ``ValueError`` (the reference reflected any origin).
        max_age: how long browsers may cache a preflight answer, in seconds.
        expose_headers: response headers scripts may read.
        origin_regex: a regular expression that an origin must match entirely.

    Example:
        >>> app.add_middleware(CORSMiddleware(origins=["https://app.example.com"], allow_credentials=True))
    """

    def __init__(
        self,
        origins: list[str] | None = None,
        methods: list[str] | None = None,
        headers: list[str] | None = None,
        allow_credentials: bool = False,
        max_age: int = 3600,
        expose_headers: Iterable[str] = (),
        origin_regex: str | None = None,
    ) -> None:
        origins = list(origins) if origins is not None else ["*"]
        self.allow_all_origins = "*" in origins
        if self.allow_all_origins and allow_credentials:
            raise ValueError("CORSMiddleware: origins=['*'] cannot be used with allow_credentials=True; list them")
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self.origin_regex = re.compile(origin_regex) if origin_regex else None
        methods = [m.upper() for m in (methods or ["GET", "POST", "PUT", "DELETE", "OPTIONS"])]
        self.allow_all_methods = "*" in methods
        self.methods = tuple(dict.fromkeys(methods))
        headers = list(headers) if headers is not None else ["Content-Type", "Authorization"]
        self.allow_all_headers = "*" in headers
        self.headers = frozenset(h.lower() for h in headers if h != "*") | _SAFELISTED_HEADERS
        self.allow_credentials = allow_credentials
        self.max_age = int(max_age)
        self.expose_headers = ", ".join(expose_headers)
        self.__name__ = "cors"

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether ``origin`` may read answers (exact match, or a full match of ``origin_regex``)."""
        if origin == "null":
            return "null" in self.origins
        if not origin or len(origin) > 2048:
            return False
        if self.allow_all_origins or origin in self.origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        origin = request.header("origin")
        if origin is None:
            response = await call_next(request)
            add_vary(response.headers, "Origin")
            return response
        if request.method == "OPTIONS" and request.header("access-control-request-method") is not None:
            return self._preflight(request, origin)
        response = await call_next(request)
        headers = response.headers
        add_vary(headers, "Origin")
        if self.is_allowed_origin(origin):
            headers["access-control-allow-origin"] = "*" if self._wildcard() else origin
            if self.allow_credentials:
                headers["access-control-allow-credentials"] = "true"
            if self.expose_headers:
                headers["access-control-expose-headers"] = self.expose_headers
        return response

    def _wildcard(self) -> bool:
        return self.allow_all_origins and not self.allow_credentials

    def _preflight(self, request: Request, origin: str) -> Response:
        method = (request.header("access-control-request-method") or "").strip().upper()
        requested = [
            h.strip().lower() for v in request.header_all("access-control-request-headers") for h in v.split(",")
        ]
        requested = [h for h in requested if h]
        failures = []
        if not self.is_allowed_origin(origin):
            failures.append("origin")
        if not (_TOKEN.fullmatch(method) and (self.allow_all_methods or method in self.methods)):
            failures.append("method")
        if any(not _TOKEN.fullmatch(h) or not (self.allow_all_headers or h in self.headers) for h in requested):
            failures.append("headers")
        if failures:
            response = Response(
                "Disallowed CORS " + ", ".join(failures), status=400, content_type="text/plain; charset=utf-8"
            )
            add_vary(response.headers, "Origin")
            return response
        response = Response(b"", status=204)
        del response.headers["content-type"]
        headers = response.headers
        headers["access-control-allow-origin"] = "*" if self._wildcard() else origin
        headers["access-control-allow-methods"] = method if self.allow_all_methods else ", ".join(self.methods)
        if requested:
            headers["access-control-allow-headers"] = ", ".join(requested)
        headers["access-control-max-age"] = str(self.max_age)
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        add_vary(headers, "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
        return response


__all__ = ["CORSMiddleware", "add_vary"]
