"""CSRF protection bound to the server-side session (OWASP's synchronizer token), plus an Origin check.

Unsafe methods need (``docs/security.md``, ``docs/hardening.md`` row 44): ``Sec-Fetch-Site`` not ``cross-site``;
``Origin``, when sent, the request's own or a trusted one (``Referer`` instead on HTTPS without ``Origin``); and a
token from the session (form field ``csrf_token`` or header ``X-CSRF-Token``) compared in constant time. A failure
is a 403 through the app's error handling that never echoes the token. Tokens are masked per response (BREACH).

The token lives in the session, so a session middleware (:class:`~gobstopper.sessions.SessionMiddleware`) must run
around this one.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..http.errors import BadRequest, HTTPException
from ..sessions.middleware import SessionState, current_session_state

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

logger = logging.getLogger("gobstopper.security")

#: Methods that never need a token (RFC 9110 §9.2.1: they must not change state).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Session key holding the CSRF secret (the reference's name).
CSRF_SESSION_KEY = "csrf_token"
_MASKED_LEN = 86  # urlsafe base64 of 64 bytes, unpadded
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _normalise_origin(origin: str) -> str:
    origin = origin.strip().rstrip("/").lower()
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


def _new_secret() -> str:
    return _b64e(secrets.token_bytes(32))


class CSRFMiddleware:
    """CSRF protection for unsafe methods, and ``request.csrf_token`` for forms and ``X-CSRF-Token`` headers.

    It needs the session: add a :class:`~gobstopper.sessions.SessionMiddleware` with a higher priority, so that it
    runs around this one (a request reaching this middleware without a session is a ``RuntimeError``, answered
    500: the check fails closed)::

        app.add_middleware(SessionMiddleware(os.environ["SECRET_KEY"], storage), priority=1000)
        app.add_middleware(CSRFMiddleware(), priority=900)

    Args:
        trusted_origins: other origins allowed to post (``https://admin.example.com``).
        header_name: header carrying the token.
        field_name: form field carrying the token.
    """

    def __init__(
        self,
        trusted_origins: Sequence[str] = (),
        header_name: str = "X-CSRF-Token",
        field_name: str = "csrf_token",
    ) -> None:
        self.trusted_origins = frozenset(_normalise_origin(o) for o in trusted_origins)
        self.header_name = header_name.lower()
        self.field_name = field_name
        self._session_renewed = self.session_renewed  # bound once: it is handed to every session state
        self.__name__ = "csrf"

    # -- tokens ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _mask(secret: str) -> str | None:
        raw = _b64d(secret)
        if raw is None or len(raw) != 32:
            return None
        mask = secrets.token_bytes(32)
        return _b64e(mask + bytes(a ^ b for a, b in zip(mask, raw)))

    def generate_csrf_token(self, session: dict[str, Any]) -> str:
        """A CSRF token for forms and ``X-CSRF-Token`` headers; the session's secret is created on first use.

        The secret lives in ``session["csrf_token"]``; each call returns it masked with fresh random bytes (so
        the page never repeats it: BREACH), and every masked form stays valid for the session's lifetime.
        """
        secret = session.get(CSRF_SESSION_KEY)
        if not isinstance(secret, str) or _b64d(secret) is None or len(_b64d(secret) or b"") != 32:
            secret = session[CSRF_SESSION_KEY] = _new_secret()
        token = self._mask(secret)
        assert token is not None
        state = current_session_state()
        if state is not None and state.session is session:
            state.request.csrf_token = token
        return token

    def csrf_token_for(self, request: Request) -> str | None:
        """The CSRF token behind ``request.csrf_token``: created in the request's session on first read.

        None when no session middleware is (or is still) handling ``request``: a secret stored in a session that
        will not be saved would give a token that never validates.
        """
        state = current_session_state(request)
        if state is None:
            return None
        return self.generate_csrf_token(state.session)

    def csrf_token_matches(self, submitted: str, secret: str) -> bool:
        """Whether a submitted token (masked, or the bare secret) matches the session's secret, in constant time."""
        candidate = submitted
        if len(submitted) == _MASKED_LEN:
            raw = _b64d(submitted)
            if raw is not None and len(raw) == 64:
                candidate = _b64e(bytes(a ^ b for a, b in zip(raw[:32], raw[32:])))
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), secret.encode("utf-8", "replace"))

    def session_renewed(self, state: SessionState) -> None:
        """The session got a new id (login: a new secret, so a token from before no longer passes) or was
        destroyed (logout: the request's token is gone with it)."""
        if state.destroyed:
            state.request.csrf_token = None
            return
        secret = state.session[CSRF_SESSION_KEY] = _new_secret()
        state.request.csrf_token = self._mask(secret)

    # -- one request ----------------------------------------------------------------------------------------------

    def bind(self, request: Request, state: SessionState) -> None:
        """Serve ``request.csrf_token`` (made on first read) and ``csrf_token(request)`` from ``state``'s session."""
        request.csrf_token = None
        request._security = self  # type: ignore[misc]  # a lazily set attribute (Request's ClassVar default)
        state.on_new_id = self._session_renewed

    async def check(self, request: Request, state: SessionState) -> Response | None:
        """``None`` when this unsafe request passes, else the 403 answer (through the app's error handling)."""
        reason = await self.failure_reason(request, state)
        if reason is None:
            return None
        logger.warning("CSRF check failed for %s %s: %s", request.method, request.path, reason)
        return await request.app.handle_exception(  # type: ignore[union-attr,no-any-return]
            request, HTTPException(403, "CSRF validation failed.")
        )

    def _origin_ok(self, request: Request, origin: str) -> bool:
        origin = _normalise_origin(origin)
        own = _normalise_origin(f"{request.scheme}://{request.host}")
        return origin == own or origin in self.trusted_origins

    async def failure_reason(self, request: Request, state: SessionState) -> str | None:
        """Why this unsafe request fails the CSRF check, or None when it passes (the token is never part of it).

        Raises:
            BadRequest: a form body with more fields than ``app.max_query_params``.
        """
        fetch_site = request.header("sec-fetch-site")
        if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
            return "Sec-Fetch-Site: cross-site"
        origin = request.header("origin")
        if origin is not None:
            if origin.strip().lower() == "null" or not self._origin_ok(request, origin):
                return "foreign Origin"
        elif request.scheme == "https":
            referer = request.header("referer")
            referer_origin = _origin_of(referer) if referer else None
            if referer_origin is None or not self._origin_ok(request, referer_origin):
                return "missing or foreign Referer on HTTPS"
        secret = state.session.get(CSRF_SESSION_KEY)
        if not isinstance(secret, str) or not secret:
            return "no CSRF token in the session"
        submitted = request.header(self.header_name)
        if submitted is None:
            submitted = await self._form_token(request)
        if not submitted:
            return "no CSRF token submitted"
        if not self.csrf_token_matches(submitted, secret):
            return "CSRF token mismatch"
        return None

    async def _form_token(self, request: Request) -> str | None:
        mimetype = request.mimetype
        if mimetype not in _FORM_TYPES:
            return None
        form_method = getattr(request, "form", None)
        if callable(form_method):  # the request's own form parser, when present
            form = form_method()
            if hasattr(form, "__await__"):
                form = await form
            value = form.get(self.field_name) if form is not None else None
            if isinstance(value, list):
                value = value[0] if value else None
            return value if isinstance(value, str) else None
        if mimetype != "application/x-www-form-urlencoded":
            return None
        body = await request.get_data()
        limit = request.app.max_query_params if request.app is not None else 1000
        try:
            fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=limit)
        except ValueError:
            raise BadRequest(f"Too many form fields (the limit is {limit}).") from None
        values = fields.get(self.field_name)
        return values[0] if values else None

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Bind the token to the session and refuse an unsafe request that fails the check (403)."""
        state = current_session_state(request)
        if state is None:
            raise RuntimeError(
                "CSRFMiddleware needs a session: add SessionMiddleware with a higher priority, so it runs first"
            )
        self.bind(request, state)
        if request.method not in SAFE_METHODS:
            refused = await self.check(request, state)
            if refused is not None:
                return refused
        return await call_next(request)


def csrf_token(request: Request) -> str:
    """A CSRF token for ``request``'s session (creates the session's secret on first use).

    Raises:
        RuntimeError: no :class:`CSRFMiddleware` (or ``SecurityMiddleware``) handles this request.
    """
    csrf = getattr(request, "_security", None)
    if csrf is None:
        raise RuntimeError("csrf_token() needs CSRFMiddleware or SecurityMiddleware")
    return csrf.generate_csrf_token(request.session)  # type: ignore[attr-defined,no-any-return]


__all__ = ["CSRF_SESSION_KEY", "SAFE_METHODS", "CSRFMiddleware", "csrf_token"]
