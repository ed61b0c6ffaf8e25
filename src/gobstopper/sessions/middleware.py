"""Server-side sessions as a middleware: ``request.session``, signed ids, storage, expiry and id rotation.

Secure by default (``docs/security.md``, ``docs/hardening.md`` rows 41-43):

- session ids are always signed (``id.mac``, HMAC-SHA256) unless ``sign_session_id=False`` is passed explicitly;
  the signature and the id's shape are checked **before** any store is asked, so a forged, malformed or unknown
  cookie gives an empty anonymous session and the store sees no read or write;
- a record is written only when the session was changed; idle and absolute timeouts apply;
- ``regenerate_session_id`` kills the old id; an emptied session or ``destroy_session`` deletes the record and
  expires the cookie; a middleware bound to the session (CSRF) hears of both through
  :attr:`SessionState.on_new_id`;
- a response whose request used the session is marked ``Vary: Cookie`` and ``Cache-Control: private``;
- ``SameSite=Lax`` by default (OWASP; ``Strict`` breaks following links into a logged-in site).
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..http.headers import add_vary
from .session import Session
from .storage import AsyncBaseSessionStorage, BaseSessionStorage, FileSessionStorage, valid_session_id

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

logger = logging.getLogger("gobstopper.security")

#: The default cookie lifetime and idle timeout, in seconds (7 days; the reference's value).
SESSION_EXPIRATION_TIME = 604800
_MAC_LEN = 43  # urlsafe base64 of 32 bytes, unpadded

_current: contextvars.ContextVar[SessionState | None] = contextvars.ContextVar("gobstopper_session_state", default=None)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionState:
    """What the session middleware knows about one request's session.

    Attributes:
        request: the request the session belongs to.
        session: the :class:`~gobstopper.sessions.Session` (also ``request.session``).
        sid: the session id, or ``None`` for a session that has no record yet.
        destroyed: the session was ended during this request (logout).
        on_new_id: called with this state after the session got a new id (``regenerate_session_id``) or was
            destroyed (``destroyed`` tells which); the CSRF middleware rotates its token there.
    """

    __slots__ = (
        "cookie_seen",
        "created",
        "destroyed",
        "last_seen",
        "on_new_id",
        "request",
        "resign",
        "rotated",
        "session",
        "sid",
        "token",
    )

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
        self.on_new_id: Callable[[SessionState], None] | None = None
        self.token: contextvars.Token[SessionState | None] | None = None


def current_session_state(request: Request | None = None) -> SessionState | None:
    """The state of the session a session middleware is handling now (for ``request``, when given), or ``None``."""
    state = _current.get()
    if state is None or (request is not None and state.request is not request):
        return None
    return state


class SessionMiddleware:
    """Server-side sessions: ``request.session`` (a dict), ``request.session_id``, login and logout.

    Add it with a high priority so it wraps everything that uses the session (``CSRFMiddleware`` needs it around
    itself)::

        app.add_middleware(SessionMiddleware(os.environ["SECRET_KEY"], MemorySessionStorage()), priority=1000)

    Args:
        secret_key: signs session ids and nothing else. Without one a random key is made (sessions then die
            with the process and are not shared between workers): always pass one in production.
        session_storage: a session store; ``FileSessionStorage("sessions")`` by default.
        debug: no warning about a generated key (development).
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

    Raises:
        ValueError: an empty ``secret_key``, or a ``__Host-``/``__Secure-`` cookie name whose attributes do not
            allow it (RFC 6265bis §4.1.3).
    """

    def __init__(
        self,
        secret_key: str | bytes | None = None,
        session_storage: BaseSessionStorage | AsyncBaseSessionStorage | None = None,
        *,
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
        secret_key_fallbacks: Sequence[str | bytes] = (),
        idle_timeout: int | None = None,
        absolute_timeout: int = 30 * 86400,
    ) -> None:
        #: Whether the key was made up here (``gobstopper check --deploy`` names it).
        self.secret_key_generated = secret_key is None
        if secret_key is None:
            secret_key = secrets.token_bytes(32)
            if not debug:
                logger.warning(
                    "sessions: no secret_key given; using a random one (sessions end with this process and are not"
                    " shared between workers)"
                )
        self._keys = [k.encode() if isinstance(k, str) else bytes(k) for k in (secret_key, *secret_key_fallbacks)]
        if not self._keys[0]:
            raise ValueError("secret_key must not be empty")
        self.secret_key = secret_key
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
            logger.warning("sessions: sign_session_id=False; session ids are only format-checked")
        self.idle_timeout = int(idle_timeout if idle_timeout is not None else cookie_max_age)
        self.absolute_timeout = int(absolute_timeout)
        #: An unchanged session's record is refreshed (idle timeout) at most this often.
        self.touch_interval = max(1, min(60, self.idle_timeout // 4))
        if cookie_name.startswith("__Host-") and (not cookie_secure or cookie_path != "/" or cookie_domain):
            raise ValueError("a __Host- cookie needs cookie_secure=True, cookie_path='/' and no cookie_domain")
        if cookie_name.startswith("__Secure-") and not cookie_secure:
            raise ValueError("a __Secure- cookie needs cookie_secure=True")
        self.__name__ = "sessions"

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

    def _record(self, state: SessionState, now: float) -> dict[str, Any]:
        expires = min(now + self.idle_timeout, state.created + self.absolute_timeout)
        return {"data": state.session.raw(), "created_at": state.created, "last_seen": now, "expires_at": expires}

    # -- one request ----------------------------------------------------------------------------------------------

    async def open_session(self, request: Request) -> SessionState:
        """Load ``request``'s session from its cookie, set ``request.session``/``session_id`` and make it current.

        A forged, malformed, unknown or expired cookie gives an empty session (an expired record is deleted).
        Every ``open_session`` must be followed by :meth:`close_session`, whatever happens in between.
        """
        state = SessionState(request)
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
        request._session_id = state.sid  # ``request.session_id`` is a read-only view of it
        state.token = _current.set(state)
        return state

    @staticmethod
    def close_session(state: SessionState) -> None:
        """End what :meth:`open_session` started: the session is no longer the current one."""
        token, state.token = state.token, None
        if token is not None:
            _current.reset(token)

    async def save_session(self, request: Request, state: SessionState, response: Response) -> None:
        """Store the session if it changed (or is due a refresh) and set, refresh or expire its cookie."""
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
            _mark_private(response)

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Load the session, call the app, save the session. An error is answered through the app's handlers."""
        state = None
        try:
            state = await self.open_session(request)
            response = await call_next(request)
            await self.save_session(request, state, response)
        except Exception as exc:
            response = await request.app.handle_exception(request, exc)  # type: ignore[union-attr]
        finally:
            if state is not None:
                self.close_session(state)
        return response

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
            state.request._session_id = None
            if state.on_new_id is not None:
                state.on_new_id(state)

    async def regenerate_session_id(self, request: Request) -> str | None:
        """Give the current session a new id (call it at login and on any privilege change).

        The data is kept (and saved under the new id), the old record is deleted at once (the old id is dead),
        and a bound CSRF middleware rotates its token. Returns the new id, or None when the middleware is not
        handling this request.
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
        session.modified = session.accessed = True  # the data moves to the new id
        if state.on_new_id is not None:
            state.on_new_id(state)
        request._session_id = state.sid
        return state.sid

    async def logout(self, request: Request) -> None:
        """End the current session: delete the record and expire the cookie."""
        await self.destroy_session(request)


def _mark_private(response: Response) -> None:
    # A response that depends on the session must not be cached for anyone else (hardening row 43).
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


__all__ = ["SESSION_EXPIRATION_TIME", "SessionMiddleware", "SessionState", "current_session_state"]
