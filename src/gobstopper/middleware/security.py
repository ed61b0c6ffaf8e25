"""``SecurityMiddleware``: the reference's one middleware for sessions, CSRF protection and security headers.

It is the composition of three middlewares that also work on their own (``docs/security.md``):
:class:`~gobstopper.sessions.SessionMiddleware` (``request.session``, signed ids, expiry, rotation),
:class:`~gobstopper.middleware.csrf.CSRFMiddleware` (the session-bound token and the Origin check) and
:class:`~gobstopper.middleware.security_headers.SecurityHeadersMiddleware`. It keeps the reference's constructor
and methods, builds the three and runs them in order in one ``__call__`` (one layer, not three).

Differences from the reference, all on the safe side (``docs/security.md``):

- session ids are always signed (``id.mac``, HMAC-SHA256) unless ``sign_session_id=False`` is passed explicitly;
  the signature and the id's shape are checked **before** any store is asked, so a forged, malformed or unknown
  cookie gives an empty anonymous session and the store sees no read or write;
- a record is written only when the session was changed; idle and absolute timeouts apply;
- ``regenerate_session_id`` kills the old id and rotates the CSRF token; an emptied session or
  ``destroy_session`` deletes the record and expires the cookie;
- CSRF: a session-bound token (form field ``csrf_token`` or header ``X-CSRF-Token``) compared in constant time,
  plus ``Origin``/``Referer`` and ``Sec-Fetch-Site`` checks; a failure is a 403 that never echoes the token;
- ``SameSite=Lax`` by default (OWASP; ``Strict`` breaks following links into a logged-in site).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..sessions.middleware import SESSION_EXPIRATION_TIME, SessionMiddleware, SessionState
from ..sessions.storage import AsyncBaseSessionStorage, BaseSessionStorage
from .csrf import CSRF_SESSION_KEY, SAFE_METHODS, CSRFMiddleware, csrf_token
from .security_headers import SecurityHeadersMiddleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response


class _Part:
    """An attribute of ``SecurityMiddleware`` that lives on one of its three parts (read and written there)."""

    def __init__(self, part: str, name: str | None = None) -> None:
        self.part = part
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.part), self.name)  # type: ignore[arg-type]

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(getattr(obj, self.part), self.name, value)  # type: ignore[arg-type]


class SecurityMiddleware:
    """Sessions (``request.session``), CSRF protection and security headers.

    Add it with the highest priority so it wraps everything, static files and error pages included::

        app.add_middleware(SecurityMiddleware(secret_key=os.environ["SECRET_KEY"],
                                              session_storage=storage), priority=1000)

    Its parts are :attr:`sessions` (a :class:`~gobstopper.sessions.SessionMiddleware`), :attr:`csrf` (a
    :class:`~gobstopper.middleware.csrf.CSRFMiddleware`) and :attr:`security_headers` (a
    :class:`~gobstopper.middleware.security_headers.SecurityHeadersMiddleware`); the attributes and methods below
    are theirs. ``request.csrf_token`` works with ``enable_csrf=False`` too (only the check is off).

    Args:
        secret_key: signs session ids and nothing else. Without one a random key is made (sessions then die
            with the process and are not shared between workers): always pass one in production.
        enable_csrf: check a CSRF token, ``Origin``/``Referer`` and ``Sec-Fetch-Site`` on unsafe methods.
        enable_security_headers: add the headers below to every answer (values the handler set are kept).
        hsts_max_age: ``Strict-Transport-Security`` max-age, sent on HTTPS requests only (``0`` disables).
        hsts_include_subdomains: add ``includeSubDomains`` to HSTS.
        csp_policy: ``Content-Security-Policy`` (``None`` disables).
        referrer_policy: ``Referrer-Policy`` (``None`` disables).
        coop_policy: ``Cross-Origin-Opener-Policy`` (``None`` disables).
        coep_policy: ``Cross-Origin-Embedder-Policy`` (``None`` disables).
        session_storage: a session store; ``FileSessionStorage("sessions")`` by default.
        debug: quieter warnings for development (no warning about a generated key).
        cookie_name: the session cookie (a ``__Host-`` name requires ``Secure``, ``Path=/`` and no domain).
        cookie_secure: ``Secure`` attribute (forced in ``ENV=production``).
        cookie_httponly: ``HttpOnly`` attribute (forced in ``ENV=production``).
        cookie_samesite: ``Lax`` (default), ``Strict`` or ``None`` (which forces ``Secure``).
        cookie_path: cookie path.
        cookie_domain: cookie domain (None: this host only).
        cookie_max_age: cookie lifetime in seconds; also the default idle timeout.
        rolling_sessions: save the session and re-send the cookie on every request that has one.
        sign_session_id: sign ids (default ``True``; ``False`` keeps only the format check — not recommended).
        secret_key_fallbacks: older keys still accepted when verifying (key rotation); cookies signed with one
            are re-signed with ``secret_key``.
        idle_timeout: seconds of inactivity after which a session is dead (``cookie_max_age`` by default).
        absolute_timeout: seconds after creation after which a session is dead whatever happens (30 days).
        csrf_trusted_origins: other origins allowed to post (``https://admin.example.com``).
        csrf_header_name: header carrying the token.
        csrf_field_name: form field carrying the token.
        frame_options: ``X-Frame-Options`` (``DENY``; ``None`` disables).
        permissions_policy: ``Permissions-Policy`` value, if any.
        server_header: the ``Server`` header to send instead of the server's own. The default ``""`` names no
            software where that replaces the server's header: in a Granian worker (RSGI and ASGI), which then
            sends no ``server: granian``. uvicorn puts its own header before the app's whatever the app sends, so
            there ``""`` sends nothing (one header at most: uvicorn's, or none when started with
            ``--no-server-header``, as ``gobstopper run`` does). Any other value is always sent; ``None`` leaves
            the server's header alone (``docs/deployment.md``, "The Server header").
    """

    # The sessions part.
    secret_key = _Part("sessions")
    secret_key_generated = _Part("sessions")
    session_storage = _Part("sessions")
    debug = _Part("sessions")
    cookie_name = _Part("sessions")
    cookie_secure = _Part("sessions")
    cookie_httponly = _Part("sessions")
    cookie_samesite = _Part("sessions")
    cookie_path = _Part("sessions")
    cookie_domain = _Part("sessions")
    cookie_max_age = _Part("sessions")
    rolling_sessions = _Part("sessions")
    sign_session_id = _Part("sessions")
    idle_timeout = _Part("sessions")
    absolute_timeout = _Part("sessions")
    touch_interval = _Part("sessions")
    # The CSRF part.
    csrf_trusted_origins = _Part("csrf", "trusted_origins")
    csrf_header_name = _Part("csrf", "header_name")
    csrf_field_name = _Part("csrf", "field_name")
    # The headers part.
    hsts_max_age = _Part("security_headers")
    hsts_include_subdomains = _Part("security_headers")
    csp_policy = _Part("security_headers")
    referrer_policy = _Part("security_headers")
    coop_policy = _Part("security_headers")
    coep_policy = _Part("security_headers")
    frame_options = _Part("security_headers")
    permissions_policy = _Part("security_headers")

    def __init__(
        self,
        secret_key: str | bytes | None = None,
        enable_csrf: bool = True,
        enable_security_headers: bool = True,
        hsts_max_age: int = 31536000,
        hsts_include_subdomains: bool = True,
        csp_policy: str | None = "default-src 'self'; object-src 'none'",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        coop_policy: str | None = "same-origin",
        coep_policy: str | None = "require-corp",
        session_storage: BaseSessionStorage | AsyncBaseSessionStorage | None = None,
        debug: bool = False,
        cookie_name: str = "session_id",
        cookie_secure: bool = True,
        cookie_httponly: bool = True,
        cookie_samesite: str = "Lax",
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_max_age: int = SESSION_EXPIRATION_TIME,
        rolling_sessions: bool = False,
        sign_session_id: bool = True,
        *,
        secret_key_fallbacks: Sequence[str | bytes] = (),
        idle_timeout: int | None = None,
        absolute_timeout: int = 30 * 86400,
        csrf_trusted_origins: Sequence[str] = (),
        csrf_header_name: str = "X-CSRF-Token",
        csrf_field_name: str = "csrf_token",
        frame_options: str | None = "DENY",
        permissions_policy: str | None = None,
        server_header: str | None = "",
    ) -> None:
        self.sessions = SessionMiddleware(
            secret_key,
            session_storage,
            debug=debug,
            cookie_name=cookie_name,
            cookie_secure=cookie_secure,
            cookie_httponly=cookie_httponly,
            cookie_samesite=cookie_samesite,
            cookie_path=cookie_path,
            cookie_domain=cookie_domain,
            cookie_max_age=cookie_max_age,
            rolling_sessions=rolling_sessions,
            sign_session_id=sign_session_id,
            secret_key_fallbacks=secret_key_fallbacks,
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
        )
        self.csrf = CSRFMiddleware(csrf_trusted_origins, csrf_header_name, csrf_field_name)
        self.security_headers = SecurityHeadersMiddleware(
            hsts_max_age,
            hsts_include_subdomains,
            csp_policy,
            referrer_policy,
            coop_policy,
            coep_policy,
            frame_options,
            permissions_policy,
            server_header,
        )
        self.enable_csrf = enable_csrf
        self.enable_security_headers = enable_security_headers
        self.__name__ = "security"

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Load the session, check CSRF, call the app, save the session, add the security headers.

        The three parts in order, in one layer: ``SessionMiddleware``, ``CSRFMiddleware`` (the check only with
        ``enable_csrf``), the app, then ``SecurityHeadersMiddleware`` (with ``enable_security_headers``) on every
        answer, errors included.
        """
        sessions = self.sessions
        state: SessionState | None = None
        try:
            state = await sessions.open_session(request)
            csrf = self.csrf
            csrf.bind(request, state)
            response = None
            if self.enable_csrf and request.method not in SAFE_METHODS:
                response = await csrf.check(request, state)
            if response is None:
                response = await call_next(request)
            await sessions.save_session(request, state, response)
        except Exception as exc:
            response = await request.app.handle_exception(request, exc)  # type: ignore[union-attr]
        finally:
            if state is not None:
                sessions.close_session(state)
        if self.enable_security_headers:
            self.security_headers.add_security_headers(request, response)
        return response

    # -- the parts' methods -----------------------------------------------------------------------------------------

    def create_session_id(self) -> str:
        """A new random session id (``secrets.token_urlsafe(32)``: 256 bits, 43 characters)."""
        return self.sessions.create_session_id()

    def signed_cookie_value(self, session_id: str) -> str:
        """The cookie value for ``session_id``: ``id.mac`` (HMAC-SHA256 with the current key) when signing."""
        return self.sessions.signed_cookie_value(session_id)

    def verify_cookie_value(self, value: str) -> tuple[str | None, bool]:
        """``(session_id, signed_with_an_old_key)`` for a cookie value, or ``(None, False)`` when it is forged."""
        return self.sessions.verify_cookie_value(value)

    def get_session_id(self, request: Request) -> str | None:
        """The current request's session id (None for a session not saved yet)."""
        return self.sessions.get_session_id(request)

    async def create_session(self, data: dict[str, Any]) -> str:
        """Store a new session holding ``data`` and return its id (send ``signed_cookie_value(id)`` as cookie)."""
        return await self.sessions.create_session(data)

    async def destroy_session(self, session_id: str | Request) -> None:
        """Delete a session's record; when it is the current request's session, its cookie is expired too.

        Args:
            session_id: a session id, or the request whose session ends (logout).
        """
        await self.sessions.destroy_session(session_id)

    async def regenerate_session_id(self, request: Request) -> str | None:
        """Give the current session a new id (call it at login and on any privilege change).

        The data is kept, the old record is deleted at once (the old id is dead), and the CSRF token is rotated.
        Returns the new id, or None when the middleware is not handling this request.
        """
        return await self.sessions.regenerate_session_id(request)

    async def logout(self, request: Request) -> None:
        """End the current session: delete the record and expire the cookie."""
        await self.sessions.logout(request)

    def generate_csrf_token(self, session: dict[str, Any]) -> str:
        """A CSRF token for forms and ``X-CSRF-Token`` headers; the session's secret is created on first use."""
        return self.csrf.generate_csrf_token(session)

    def csrf_token_for(self, request: Request) -> str | None:
        """The CSRF token behind ``request.csrf_token`` (None when no session is handled for ``request``)."""
        return self.csrf.csrf_token_for(request)

    def csrf_token_matches(self, submitted: str, secret: str) -> bool:
        """Whether a submitted token (masked, or the bare secret) matches the session's secret, in constant time."""
        return self.csrf.csrf_token_matches(submitted, secret)

    def add_security_headers(self, request: Request, response: Response) -> None:
        """Add the configured security headers to ``response`` (headers already set are kept)."""
        self.security_headers.add_security_headers(request, response)


__all__ = ["CSRF_SESSION_KEY", "SAFE_METHODS", "SESSION_EXPIRATION_TIME", "SecurityMiddleware", "csrf_token"]
