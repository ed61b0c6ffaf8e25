"""Security headers on every answer, error pages included (``docs/hardening.md`` row 39), and the Server header."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..http.headers import check_header

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response


class SecurityHeadersMiddleware:
    """Add security headers to every answer: 404, 405, 413 and 500 answers and static files included.

    Add it with the highest priority so it wraps everything (an error raised by inner middleware is answered
    through the app's error handling, and that answer gets the headers too)::

        app.add_middleware(SecurityHeadersMiddleware(), priority=1100)

    A header the handler set itself is kept. ``None`` leaves a header out.

    Args:
        hsts_max_age: ``Strict-Transport-Security`` max-age, sent on HTTPS requests only (``0`` disables).
        hsts_include_subdomains: add ``includeSubDomains`` to HSTS.
        csp_policy: ``Content-Security-Policy``.
        referrer_policy: ``Referrer-Policy``.
        coop_policy: ``Cross-Origin-Opener-Policy``.
        coep_policy: ``Cross-Origin-Embedder-Policy``.
        frame_options: ``X-Frame-Options`` (``DENY``).
        permissions_policy: ``Permissions-Policy`` value, if any.
        server_header: the ``Server`` header to send instead of the server's own. The default ``""`` names no
            software where that replaces the server's header: in a Granian worker (RSGI and ASGI), which then
            sends no ``server: granian``. uvicorn puts its own header before the app's whatever the app sends, so
            there ``""`` sends nothing (one header at most: uvicorn's, or none when started with
            ``--no-server-header``, as ``gobstopper run`` does). Any other value is always sent; ``None`` leaves
            the server's header alone (``docs/deployment.md``, "The Server header").
    """

    def __init__(
        self,
        hsts_max_age: int = 31536000,
        hsts_include_subdomains: bool = True,
        csp_policy: str | None = "default-src 'self'; object-src 'none'",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        coop_policy: str | None = "same-origin",
        coep_policy: str | None = "require-corp",
        frame_options: str | None = "DENY",
        permissions_policy: str | None = None,
        server_header: str | None = "",
    ) -> None:
        self.hsts_max_age = hsts_max_age
        self.hsts_include_subdomains = hsts_include_subdomains
        self.csp_policy = csp_policy
        self.referrer_policy = referrer_policy
        self.coop_policy = coop_policy
        self.coep_policy = coep_policy
        self.frame_options = frame_options
        self.permissions_policy = permissions_policy
        self.server_header = server_header
        headers = [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", frame_options),
            ("content-security-policy", csp_policy),
            ("referrer-policy", referrer_policy),
            ("cross-origin-opener-policy", coop_policy),
            ("cross-origin-embedder-policy", coep_policy),
            ("permissions-policy", permissions_policy),
        ]
        if server_header:
            headers.append(("server", server_header))
        # Checked once here (a bad value is a ValueError at configuration, not on every answer), then appended as is.
        self._static_headers = [check_header(n, v) for n, v in headers if v]
        self._hide_server = server_header == ""  # only where it replaces the server's own (add_security_headers)
        hsts = f"max-age={int(hsts_max_age)}" + ("; includeSubDomains" if hsts_include_subdomains else "")
        self._hsts = hsts if hsts_max_age > 0 else None
        self.__name__ = "security_headers"

    def add_security_headers(self, request: Request, response: Response) -> None:
        """Add the configured security headers to ``response`` (headers already set are kept)."""
        wire = response.raw_headers  # lower-case names; the configured pairs were checked in __init__
        present = {name for name, _ in wire}
        wire.extend(pair for pair in self._static_headers if pair[0] not in present)
        if self._hide_server and "server" not in present and "granian" in sys.modules:
            wire.append(("server", ""))  # Granian then sends none of its own; uvicorn would send both
        if self._hsts is not None and "strict-transport-security" not in present:
            try:
                https = request.scheme == "https"
            except Exception:
                https = False
            if https:
                wire.append(("strict-transport-security", self._hsts))

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Call the app (an error is answered through the app's error handling), then add the headers."""
        try:
            response = await call_next(request)
        except Exception as exc:
            response = await request.app.handle_exception(request, exc)  # type: ignore[union-attr]
        self.add_security_headers(request, response)
        return response


__all__ = ["SecurityHeadersMiddleware"]
