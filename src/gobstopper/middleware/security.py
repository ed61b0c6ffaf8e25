"""Sessions, CSRF protection and security headers in one middleware (secure by default).

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

import base64
import contextvars
import hashlib
import hmac
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread

from ..http.errors import BadRequest, HTTPException
from ..sessions.session import Session
from ..sessions.storage import AsyncBaseSessionStorage, BaseSessionStorage, FileSessionStorage, valid_session_id
from .cors import add_vary

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

logger = logging.getLogger("gobstopper.security")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Session key holding the CSRF secret (the reference's name).
CSRF_SESSION_KEY = "csrf_token"
SESSION_EXPIRATION_TIME = 604800
_MAC_LEN = 43  # urlsafe base64 of 32 bytes, unpadded
_MASKED_LEN = 86  # urlsafe base64 of 64 bytes, unpadded
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_current: contextvars.ContextVar[_State | None] = contextvars.ContextVar("gobstopper_session_state", default=None)


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


class _State:
    """What the middleware knows about one request's session."""

    __slots__ = ("cookie_seen", "created", "destroyed", "last_seen", "request", "resign", "rotated", "session", "sid")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.sid: str | None = None
        self.session = Session()
        self.created = 0.0
        self.last_seen = 0.0
        self.destroyed = False
        self.rotated = False
        self.resign = False
        self.cookie_seen = False


class SecurityMiddleware:
    """Sessions (``request.session``), CSRF protection and security headers.

    Add it with the highest priority so it wraps everything, static files and error pages included::

        app.add_middleware(SecurityMiddleware(secret_key=os.environ["SECRET_KEY"],
                                              session_storage=storage), priority=1000)

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
        #: Whether the key was made up here (``gobstopper check --deploy`` names it).
        self.secret_key_generated = secret_key is None
        if secret_key is None:
            secret_key = secrets.token_bytes(32)
            if not debug:
                logger.warning(
                    "SecurityMiddleware: no secret_key given; using a random one (sessions end with this process"
                    " and are not shared between workers)"
                )
        self._keys = [k.encode() if isinstance(k, str) else bytes(k) for k in (secret_key, *secret_key_fallbacks)]
        if not self._keys[0]:
            raise ValueError("secret_key must not be empty")
        self.secret_key = secret_key
        self.enable_csrf = enable_csrf
        self.enable_security_headers = enable_security_headers
        self.hsts_max_age = hsts_max_age
        self.hsts_include_subdomains = hsts_include_subdomains
        self.csp_policy = csp_policy
        self.referrer_policy = referrer_policy
        self.coop_policy = coop_policy
        self.coep_policy = coep_policy
        self.session_storage = session_storage if session_storage is not None else FileSessionStorage("sessions")
        self.debug = debug
        self.cookie_name = cookie_name
        self.cookie_secure = cookie_secure
        self.cookie_httponly = cookie_httponly
        self.cookie_samesite = cookie_samesite
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.cookie_max_age = int(cookie_max_age)
        self.rolling_sessions = rolling_sessions
        self.sign_session_id = sign_session_id
        if not sign_session_id:
            logger.warning("SecurityMiddleware: sign_session_id=False; session ids are only format-checked")
        self.idle_timeout = int(idle_timeout if idle_timeout is not None else cookie_max_age)
        self.absolute_timeout = int(absolute_timeout)
        #: An unchanged session's record is refreshed (idle timeout) at most this often.
        self.touch_interval = max(1, min(60, self.idle_timeout // 4))
        self.csrf_trusted_origins = frozenset(_normalise_origin(o) for o in csrf_trusted_origins)
        self.csrf_header_name = csrf_header_name.lower()
        self.csrf_field_name = csrf_field_name
        self.frame_options = frame_options
        self.permissions_policy = permissions_policy
        if cookie_name.startswith("__Host-") and (not cookie_secure or cookie_path != "/" or cookie_domain):
            raise ValueError("a __Host- cookie needs cookie_secure=True, cookie_path='/' and no cookie_domain")
        if cookie_name.startswith("__Secure-") and not cookie_secure:
            raise ValueError("a __Secure- cookie needs cookie_secure=True")
        headers = [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", frame_options),
            ("content-security-policy", csp_policy),
            ("referrer-policy", referrer_policy),
            ("cross-origin-opener-policy", coop_policy),
            ("cross-origin-embedder-policy", coep_policy),
            ("permissions-policy", permissions_policy),
        ]
        self._static_headers = [(n, v) for n, v in headers if v]
        if server_header:
            self._static_headers.append(("server", server_header))
        self._hide_server = server_header == ""  # only where it replaces the server's own (add_security_headers)
        hsts = f"max-age={int(hsts_max_age)}" + ("; includeSubDomains" if hsts_include_subdomains else "")
        self._hsts = hsts if hsts_max_age > 0 else None
        self.__name__ = "security"

    # -- ids and signatures -------------------------------------------------------------------------------------

    def create_session_id(self) -> str:
        """A new random session id (``secrets.token_urlsafe(32)``: 256 bits, 43 characters)."""
        return secrets.token_urlsafe(32)

    def _mac(self, key: bytes, session_id: str) -> str:
        return _b64e(hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest())

    def signed_cookie_value(self, session_id: str) -> str:
        """The cookie value for ``session_id``: ``id.mac`` (HMAC-SHA256 with the current key) when signing."""
        if not self.sign_session_id:
            return session_id
        return f"{session_id}.{self._mac(self._keys[0], session_id)}"

    def verify_cookie_value(self, value: str) -> tuple[str | None, bool]:
        """``(session_id, signed_with_an_old_key)`` for a cookie value, or ``(None, False)`` when it is forged.

        The shape is checked first, then the MAC against the current key and the fallbacks, in that order, with
        ``hmac.compare_digest``. No store is involved.
        """
        if not self.sign_session_id:
            return (value, False) if valid_session_id(value) else (None, False)
        sid, sep, mac = value.rpartition(".")
        if not sep or len(mac) != _MAC_LEN or not valid_session_id(sid) or not mac.isascii():
            return None, False
        given = mac.encode("ascii")
        for i, key in enumerate(self._keys):
            if hmac.compare_digest(self._mac(key, sid).encode("ascii"), given):
                return sid, i > 0
        return None, False

    # -- storage ------------------------------------------------------------------------------------------------

    async def _store(self, op: str, *args: Any) -> Any:
        storage = self.session_storage
        method = getattr(storage, op)
        if isinstance(storage, AsyncBaseSessionStorage):
            return await method(*args)
        if getattr(storage, "blocking", True):
            return await anyio.to_thread.run_sync(method, *args)
        rv = method(*args)
        if hasattr(rv, "__await__"):
            rv = await rv
        return rv

    def _alive(self, record: Any, now: float) -> bool:
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            return False
        try:
            created = float(record["created_at"])
            last_seen = float(record["last_seen"])
        except (KeyError, TypeError, ValueError):
            return False
        return now - last_seen < self.idle_timeout and now - created < self.absolute_timeout

    def _record(self, state: _State, now: float) -> dict[str, Any]:
        expires = min(now + self.idle_timeout, state.created + self.absolute_timeout)
        return {"data": state.session.raw(), "created_at": state.created, "last_seen": now, "expires_at": expires}

    async def _load(self, request: Request) -> _State:
        state = _State(request)
        value = request.cookies.get(self.cookie_name)
        if value:
            state.cookie_seen = True
            sid, old_key = self.verify_cookie_value(value)
            if sid is not None:
                record = await self._store("load", sid)
                now = time.time()
                if self._alive(record, now):
                    state.sid = sid
                    state.session = Session(record["data"], new=False)
                    state.created = float(record["created_at"])
                    state.last_seen = float(record["last_seen"])
                    state.resign = old_key
                elif record is not None:
                    await self._store("delete", sid)
        request.session = state.session  # type: ignore[attr-defined]
        self._publish_id(request, state.sid)
        request.csrf_token = None  # made on first read (Request.csrf_token -> csrf_token_for)
        request._security = self  # type: ignore[misc]  # a lazily set attribute (Request's ClassVar default)
        return state

    @staticmethod
    def _publish_id(request: Request, sid: str | None) -> None:
        request._session_id = sid  # ``request.session_id`` is a read-only view of it

    # -- the middleware -------------------------------------------------------------------------------------------

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Load the session, check CSRF, call the app, save the session, add the security headers."""
        token = None
        try:
            state = await self._load(request)
            token = _current.set(state)
            response = None
            if self.enable_csrf and request.method not in SAFE_METHODS:
                reason = await self._csrf_failure(request, state)
                if reason is not None:
                    logger.warning("CSRF check failed for %s %s: %s", request.method, request.path, reason)
                    response = await request.app.handle_exception(  # type: ignore[union-attr]
                        request, HTTPException(403, "CSRF validation failed.")
                    )
            if response is None:
                response = await call_next(request)
            await self._save(request, state, response)
        except Exception as exc:
            response = await request.app.handle_exception(request, exc)  # type: ignore[union-attr]
        finally:
            if token is not None:
                _current.reset(token)
        if self.enable_security_headers:
            self.add_security_headers(request, response)
        return response

    async def _save(self, request: Request, state: _State, response: Response) -> None:
        session = state.session
        now = time.time()
        set_cookie = expire_cookie = False
        if state.destroyed and not (session.modified and session.raw()):
            expire_cookie = True  # the record is gone already
        elif not session.new and session.modified and not session.raw():
            if state.sid is not None:
                await self._store("delete", state.sid)  # an emptied session ends
            expire_cookie = state.cookie_seen
            state.sid = None
        elif session.modified and (session.raw() or not session.new):
            if state.sid is None:
                state.sid = self.create_session_id()
                state.created = now
            await self._store("save", state.sid, self._record(state, now))
            set_cookie = session.new or state.rotated or self.rolling_sessions
        elif state.sid is not None and (self.rolling_sessions or now - state.last_seen >= self.touch_interval):
            await self._store("save", state.sid, self._record(state, now))
            set_cookie = self.rolling_sessions
        if state.sid is not None and state.resign:
            set_cookie = True
        if set_cookie and state.sid is not None:
            response.set_cookie(
                self.cookie_name,
                self.signed_cookie_value(state.sid),
                max_age=self.cookie_max_age,
                path=self.cookie_path,
                domain=self.cookie_domain,
                secure=self.cookie_secure,
                httponly=self.cookie_httponly,
                samesite=self.cookie_samesite,
            )
        elif expire_cookie:
            response.delete_cookie(
                self.cookie_name,
                path=self.cookie_path,
                domain=self.cookie_domain,
                secure=self.cookie_secure,
                httponly=self.cookie_httponly,
                samesite=self.cookie_samesite,
            )
        if session.accessed or session.modified or set_cookie or expire_cookie or state.rotated:
            self._mark_private(response)

    @staticmethod
    def _mark_private(response: Response) -> None:
        headers = response.headers
        add_vary(headers, "Cookie")
        current = headers.get("cache-control")
        if current is None:
            headers["cache-control"] = "private"
            return
        directives = [d.strip() for d in current.split(",") if d.strip()]
        lowered = {d.lower().partition("=")[0] for d in directives}
        if "private" in lowered or "no-store" in lowered:
            return
        headers["cache-control"] = ", ".join(["private", *(d for d in directives if d.lower() != "public")])

    def add_security_headers(self, request: Request, response: Response) -> None:
        """Add the configured security headers to ``response`` (headers already set are kept)."""
        headers = response.headers
        for name, value in self._static_headers:
            if name not in headers:
                headers[name] = value
        if self._hide_server and "granian" in sys.modules and "server" not in headers:
            headers["server"] = ""  # Granian then sends none of its own; uvicorn would send both
        if self._hsts is not None and "strict-transport-security" not in headers:
            try:
                https = request.scheme == "https"
            except Exception:
                https = False
            if https:
                headers["strict-transport-security"] = self._hsts

    # -- CSRF -----------------------------------------------------------------------------------------------------

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
            secret = session[CSRF_SESSION_KEY] = _b64e(secrets.token_bytes(32))
        token = self._mask(secret)
        assert token is not None
        state = _current.get()
        if state is not None and state.session is session:
            state.request.csrf_token = token
        return token

    def csrf_token_for(self, request: Request) -> str | None:
        """The CSRF token behind ``request.csrf_token``: created in the request's session on first read.

        None when this middleware is not (or no longer) handling ``request``: a secret stored in a session that
        will not be saved would give a token that never validates.
        """
        state = _current.get()
        if state is None or state.request is not request:
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

    def _origin_ok(self, request: Request, origin: str) -> bool:
        origin = _normalise_origin(origin)
        own = _normalise_origin(f"{request.scheme}://{request.host}")
        return origin == own or origin in self.csrf_trusted_origins

    async def _csrf_failure(self, request: Request, state: _State) -> str | None:
        """Why this unsafe request fails the CSRF check, or None when it passes."""
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
        submitted = request.header(self.csrf_header_name)
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
            value = form.get(self.csrf_field_name) if form is not None else None
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
        values = fields.get(self.csrf_field_name)
        return values[0] if values else None

    # -- session API ----------------------------------------------------------------------------------------------

    def get_session_id(self, request: Request) -> str | None:
        """The current request's session id (None for a session not saved yet)."""
        return getattr(request, "_session_id", None)

    async def create_session(self, data: dict[str, Any]) -> str:
        """Store a new session holding ``data`` and return its id (send ``signed_cookie_value(id)`` as cookie)."""
        now = time.time()
        session_id = self.create_session_id()
        record = {"data": dict(data), "created_at": now, "last_seen": now,
                  "expires_at": min(now + self.idle_timeout, now + self.absolute_timeout)}  # fmt: skip
        await self._store("save", session_id, record)
        return session_id

    async def destroy_session(self, session_id: str | Request) -> None:
        """Delete a session's record; when it is the current request's session, its cookie is expired too.

        Args:
            session_id: a session id, or the request whose session ends (logout).
        """
        state = _current.get()
        if not isinstance(session_id, str):
            request = session_id
            state = state if state is not None and state.request is request else None
            session_id = getattr(request, "_session_id", None)  # type: ignore[assignment]
            if state is not None:
                state.destroyed = True
        if isinstance(session_id, str) and valid_session_id(session_id):
            await self._store("delete", session_id)
        if state is not None and (state.sid == session_id or state.destroyed):
            # Whatever the handler stores after this starts a new session under a new id.
            state.destroyed = True
            state.sid = None
            session = state.session
            dict.clear(session)
            session.modified, session.new, session.accessed = False, True, True
            state.request.csrf_token = None
            self._publish_id(state.request, None)

    async def regenerate_session_id(self, request: Request) -> str | None:
        """Give the current session a new id (call it at login and on any privilege change).

        The data is kept, the old record is deleted at once (the old id is dead), and the CSRF token is rotated.
        Returns the new id, or None when the middleware is not handling this request.
        """
        state = _current.get()
        if state is None or state.request is not request:
            return None
        if state.sid is not None:
            await self._store("delete", state.sid)
        state.sid = self.create_session_id()
        state.created = time.time()
        state.rotated = True
        state.destroyed = False
        session = state.session
        session.new = True  # no record under the new id yet
        session[CSRF_SESSION_KEY] = _b64e(secrets.token_bytes(32))
        request.csrf_token = self._mask(session[CSRF_SESSION_KEY])
        self._publish_id(request, state.sid)
        return state.sid

    async def logout(self, request: Request) -> None:
        """End the current session: delete the record and expire the cookie."""
        await self.destroy_session(request)


def csrf_token(request: Request) -> str:
    """A CSRF token for ``request``'s session (creates the session's secret on first use).

    Raises:
        RuntimeError: no :class:`SecurityMiddleware` handles this request.
    """
    security = getattr(request, "_security", None)
    if security is None:
        raise RuntimeError("csrf_token() needs SecurityMiddleware")
    return security.generate_csrf_token(request.session)  # type: ignore[attr-defined,no-any-return]


__all__ = ["CSRF_SESSION_KEY", "SAFE_METHODS", "SecurityMiddleware", "csrf_token"]
