"""The request object: cheap to create, everything parsed on first use and cached."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote

import msgspec
from starlette.datastructures import Headers

from ..adapter import Connection, HeaderSource, RequestSource
from ..settings import DEFAULT_MAX_JSON_DEPTH, HTTPSettings
from . import forms
from ._json import decode_json
from .cookies import parse_cookie_header
from .errors import (
    BadRequest,
    ClientDisconnect,
    HTTPException,
    RequestTimeout,
    RequestTooLarge,
    UnsupportedMediaType,
)
from .file_storage import FileStorage
from .negotiation import best_match

#: The limits of a request made without an app's settings (tests, tools).
DEFAULT_HTTP = HTTPSettings()
_framework_logger = logging.getLogger("gobstopper")
# A request id taken from a trusted proxy's X-Request-ID: visible ASCII, bounded.
_REQUEST_ID = re.compile(r"[!-~]{1,200}")

#: Defaults of the limits (``gobstopper.settings.HTTPSettings`` is where an app's own values live).
DEFAULT_MAX_BODY_BYTES = DEFAULT_HTTP.max_body_bytes
DEFAULT_MAX_QUERY_PARAMS = DEFAULT_HTTP.max_query_params
DEFAULT_MAX_COOKIES = DEFAULT_HTTP.max_cookies
DEFAULT_MAX_HEADERS = DEFAULT_HTTP.max_headers
DEFAULT_MAX_HEADER_BYTES = DEFAULT_HTTP.max_header_bytes
DEFAULT_MAX_HEADERS_TOTAL_BYTES = DEFAULT_HTTP.max_headers_total_bytes

# RFC 3986 reg-name restricted to what DNS names and IPv4 use, or an IPv6 literal; optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json", re.ASCII)


class _LazyState:
    """The request's lazily computed state: a class default until first set, then in the instance ``__dict__``.

    A plain mixin rather than ``ClassVar``s on the Struct: msgspec makes no fields of it, and type checkers see
    ordinary instance attributes with defaults.
    """

    root_path: str = ""
    _max_body_bytes: int | None = None
    _query_string: str | None = None
    _header_source: HeaderSource | None = None
    _headers: Headers | None = None
    _connection: Connection | None = None
    _cookies: dict[str, str] | None = None
    _args: dict[str, list[str]] | None = None
    _body: bytes | None = None
    _body_consumed: bool = False
    _host: str | None = None
    _max_json_depth: int | None = None
    _files: dict[str, FileStorage] | None = None
    _id: str | None = None
    _csrf_token: str | None = None
    _security: Any = None  # the SecurityMiddleware handling this request, set by it
    # Set by the session middleware (``gobstopper.sessions``); None when no session middleware runs.
    session: Any = None
    _session_id: str | None = None


class Request(msgspec.Struct, _LazyState, dict=True, eq=False):
    """One HTTP request, as handlers see it.

    Attributes are parsed lazily from what the server gave and cached, so a handler pays only for what it reads.
    Handlers may attach their own attributes (``request.user = ...``).

    Adapters create it as ``Request(method, path, scope, channel, source, app, settings)``: the server's raw scope
    and body channel, the adapter's :class:`~gobstopper.adapter.RequestSource` that reads them, the app (for
    handlers) and the app's :class:`~gobstopper.settings.HTTPSettings` (the limits this request is held to).

    Attributes:
        method: the HTTP method, upper case.
        path: the request path, already percent-decoded by the server (relative to a mount point).
        app: the application handling the request.
        root_path: the mount prefix the path is relative to (``""`` at the top level).
        session: the session's data, a dict-like object set by the session middleware; ``None`` without one.
    """

    # A msgspec Struct because one is made per request: its constructor is C, about half the cost of a class
    # with a Python __init__ (benchmarks/instructions.py). The fields are the hot state; ``dict=True`` gives an
    # instance __dict__ for what is computed lazily and for user attributes. Identity equality, as for objects.
    method: str
    path: str
    _scope: Any
    _channel: Any
    _source: RequestSource
    app: Any = None
    settings: HTTPSettings = DEFAULT_HTTP
    _route: Any = None
    _params: dict[str, Any] | None = None
    # A field, not a lazily set attribute: dispatch reads it after every request (uploads to release), and a
    # field reads faster than a class default behind the instance dict (benchmarks/instructions.py).
    _form: Any = None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path!r}>"

    # -- routing results -------------------------------------------------------------------------------------

    @property
    def view_args(self) -> dict[str, Any]:
        """The converted path parameters of the matched route."""
        return self._params if self._params is not None else {}

    @view_args.setter
    def view_args(self, value: dict[str, Any]) -> None:
        self._params = value

    @property
    def endpoint(self) -> str | None:
        """The name of the matched route (``"bp.func"`` for blueprint routes)."""
        return self._route.name if self._route is not None else None

    @property
    def url_rule(self) -> str | None:
        """The pattern of the matched route (``"/users/<int:id>"``)."""
        return self._route.pattern if self._route is not None else None

    # -- identity, session and logging ---------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """An id for this request, for logs and error reports: a trusted proxy's ``X-Request-ID`` (visible ASCII,
        at most 200 characters), else 32 random hex digits, made on first read only."""
        rid = self._id
        if rid is None:
            forwarded = self.header("x-request-id") if self._trusted_peer() else None
            if forwarded is not None and _REQUEST_ID.fullmatch(forwarded):
                rid = forwarded
            else:
                rid = uuid.uuid4().hex
            self._id = rid
        return rid

    @property
    def session_id(self) -> str | None:
        """The current session's id (read-only; set by the session middleware), or ``None``."""
        return self._session_id

    @property
    def logger(self) -> logging.Logger:
        """The app's logger (``app.logger``), or the framework's ``gobstopper`` logger without an app."""
        logger = getattr(self.app, "logger", None)
        return logger if isinstance(logger, logging.Logger) else _framework_logger

    @property
    def csrf_token(self) -> str | None:
        """The CSRF token for this request's session, created on first read (Django's ``get_token``).

        Reading it stores a secret in the session when it has none yet (so the session is saved and its cookie
        sent), and returns the secret masked for this response (BREACH); every masked form stays valid for the
        session's lifetime. ``None`` when no :class:`~gobstopper.middleware.SecurityMiddleware` handles the
        request.
        """
        token = self._csrf_token
        if token is None and self._security is not None:
            token = self._csrf_token = self._security.csrf_token_for(self)
        return token

    @csrf_token.setter
    def csrf_token(self, value: str | None) -> None:
        self._csrf_token = value

    # -- URL ---------------------------------------------------------------------------------------------------

    @property
    def query_string(self) -> str:
        """The raw query string, without ``?``."""
        qs = self._query_string
        if qs is None:
            qs = self._query_string = self._source.query_string(self._scope)
        return qs

    @property
    def args(self) -> dict[str, list[str]]:
        """Query parameters as ``{name: [values]}`` (blank values kept; more than the cap is a 400)."""
        args = self._args
        if args is None:
            limit = self.settings.max_query_params
            try:
                args = parse_qs(self.query_string, keep_blank_values=True, max_num_fields=limit)
            except ValueError:
                raise BadRequest(f"Too many query parameters (the limit is {limit}).") from None
            self._args = args
        return args

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``, or ``default``."""
        values = self.args.get(name)
        return values[0] if values else default

    @property
    def connection(self) -> Connection:
        """Scheme, client and server addresses, HTTP version and HTTP/2 authority."""
        conn = self._connection
        if conn is None:
            conn = self._connection = self._source.connection(self._scope)
        return conn

    def _trusted_peer(self) -> bool:
        proxies = self.settings.trusted_proxies
        if not proxies:
            return False
        client = self.connection.client
        return client is not None and _ip_in(client[0], proxies)

    @property
    def client_ip(self) -> str:
        """The client's IP address.

        ``X-Forwarded-For`` is believed only when the direct peer is one of ``app.trusted_proxies``; the client
        is then the right-most address in the chain that is not itself a trusted proxy.
        """
        client = self.connection.client
        peer = client[0] if client is not None else "unknown"
        if self._trusted_peer():
            proxies = self.settings.trusted_proxies
            chain = [a.strip() for h in self.header_all("x-forwarded-for") for a in h.split(",") if a.strip()]
            for address in reversed(chain):
                if not _ip_in(address, proxies):
                    return address
        return peer

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (``X-Forwarded-Proto`` only from a trusted proxy)."""
        if self._trusted_peer():
            forwarded = self.header("x-forwarded-proto")
            if forwarded in ("http", "https"):
                return forwarded
        conn = self._connection
        return conn.scheme if conn is not None else self._source.scheme(self._scope)

    @property
    def host(self) -> str:
        """The requested host (and port), from ``Host`` on HTTP/1 or ``:authority`` on HTTP/2.

        Raises:
            BadRequest: a duplicate or malformed ``Host``, a missing one on HTTP/1.1, or a host outside
                ``app.trusted_hosts`` when that is set.
        """
        host = self._host
        if host is None:
            host = self._host = self._read_host()
        return host

    def _read_host(self) -> str:
        conn = self.connection
        values = self.header_all("host")
        if len(values) > 1:
            raise BadRequest("Invalid host header: more than one Host header.")
        host = values[0] if values else conn.authority
        if host is None:
            # Only HTTP/1.0 may omit Host; then the listener's address stands in.
            if conn.http_version not in ("1", "1.0") or conn.server is None:
                raise BadRequest("Invalid host header: missing.")
            server_host, port = conn.server
            host = f"[{server_host}]:{port}" if ":" in server_host else f"{server_host}:{port}"
        if _HOST.fullmatch(host) is None:
            raise BadRequest("Invalid host header.")
        trusted = self.settings.trusted_hosts
        if trusted:
            name = host[: host.index("]") + 1] if host.startswith("[") else host.partition(":")[0]
            if name.lower() not in trusted:
                raise BadRequest("Invalid host header: not a trusted host.")
        return host

    @property
    def host_url(self) -> str:
        """``scheme://host/``."""
        return f"{self.scheme}://{self.host}/"

    @property
    def full_path(self) -> str:
        """The path including the mount prefix, percent-encoded as on the wire; always begins with ``/``, so a
        target that is not origin-form (``*.evil.example``, passed on by uvicorn) never extends the host in
        :attr:`url` (docs/hardening.md row 30)."""
        path = self.root_path + self.path
        if path[:1] != "/":
            path = "/" + path
        return quote(path, safe="/:@!$&'()*+,;=-._~")

    @property
    def base_url(self) -> str:
        """The URL without the query string."""
        return f"{self.scheme}://{self.host}{self.full_path}"

    @property
    def url(self) -> str:
        """The full URL, query string included."""
        qs = self.query_string
        return self.base_url + ("?" + qs if qs else "")

    # -- headers and cookies --------------------------------------------------------------------------------

    def _hsource(self) -> HeaderSource:
        src = self._header_source
        if src is None:
            src = self._source.headers(self._scope)
            self._check_header_caps(src)
            self._header_source = src
        return src

    def _check_header_caps(self, src: HeaderSource) -> None:
        settings = self.settings
        max_count = settings.max_headers
        max_line = settings.max_header_bytes
        max_total = settings.max_headers_total_bytes
        count = total = 0
        for name, value in src.items():
            size = len(name) + len(value)
            count += 1
            total += size
            if size > max_line or count > max_count or total > max_total:
                raise HTTPException(431, "Request header fields too large.")

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive) without building :attr:`headers`."""
        return self._hsource().get(name, default)

    def header_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return self._hsource().get_all(name)

    @property
    def headers(self) -> Headers:
        """The request headers: case-insensitive, duplicates kept (``headers.getlist("x-a")``).

        Raises:
            HTTPException: 431 when the header block is over the caps (``max_headers``, ``max_header_bytes``,
                ``max_headers_total_bytes``), as for :meth:`header`: every way to the headers checks them.
        """
        headers = self._headers
        if headers is None:
            self._hsource()  # the caps are checked there, once
            headers = self._headers = Headers(raw=self._source.raw_headers(self._scope))
        return headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from every ``Cookie`` header (HTTP/2 sends one per cookie); the first of a name wins."""
        cookies = self._cookies
        if cookies is None:
            limit = self.settings.max_cookies
            try:
                cookies = parse_cookie_header("; ".join(self.header_all("cookie")), limit)
            except ValueError:
                raise HTTPException(431, f"Too many cookies (the limit is {limit}).") from None
            self._cookies = cookies
        return cookies

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, or ``""``."""
        return self.header("content-type") or ""

    @property
    def mimetype(self) -> str:
        """The media type of the body without parameters, lower case."""
        return self.content_type.partition(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        """Whether the body is declared as JSON (``application/json`` or ``application/*+json``)."""
        return _JSON_TYPE.fullmatch(self.mimetype) is not None

    # -- body ------------------------------------------------------------------------------------------------

    @property
    def max_body_bytes(self) -> int | None:
        """The body size limit for this request (request > route > blueprint > app > 10 MiB default)."""
        if self._max_body_bytes is not None:
            return self._max_body_bytes
        route = self._route
        if route is not None and route.max_body_bytes is not None:
            return route.max_body_bytes
        return self.settings.max_body_bytes

    @max_body_bytes.setter
    def max_body_bytes(self, value: int | None) -> None:
        self._max_body_bytes = value

    def refuse_oversized_body(self) -> None:
        """Answer 413 now if the declared ``Content-Length`` is over :attr:`max_body_bytes`.

        The framework calls this before a handler runs for methods that carry a body, after middleware (which
        may change the limit), so an oversized upload is refused even by a handler that never reads it.
        """
        limit = self.max_body_bytes
        if limit is not None:
            declared = self.header("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise RequestTooLarge(limit)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body in chunks as it arrives, counted against :attr:`max_body_bytes`.

        Raises:
            RequestTooLarge: the body passed :attr:`max_body_bytes` (413).
            RequestTimeout: no data for ``settings.body_timeout`` seconds (408, ``Connection: close``).
            ClientDisconnect: the client went away, or the body's framing broke, before its end (400).
        """
        if self._body is not None:
            yield self._body
            return
        if self._body_consumed:
            raise RuntimeError("the request body was already consumed")
        self._body_consumed = True
        limit = self.max_body_bytes
        declared = self.header("content-length")
        expected = None
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest("Invalid Content-Length header.")
            expected = int(declared)
            if limit is not None and expected > limit:
                raise RequestTooLarge(limit)  # before reading a single byte
        received = 0
        chunks: AsyncIterator[bytes] = self._source.body(self._scope, self._channel)
        timeout = self.settings.body_timeout
        if timeout is not None:
            chunks = _within(chunks, timeout)
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            if limit is not None and received > limit:
                raise RequestTooLarge(limit)
            yield chunk
        if expected is not None and received < expected:
            # Servers end a body at its Content-Length; a shorter one means the connection broke (RFC 9112 §8).
            raise ClientDisconnect("The request body is shorter than its Content-Length.")

    async def get_data(self) -> bytes:
        """The whole body as bytes (read once, then cached)."""
        if self._body is None:
            chunks = [chunk async for chunk in self.stream()]
            self._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._body

    async def get_body(self) -> bytes:
        """Alias of :meth:`get_data`."""
        return await self.get_data()

    @property
    async def body(self) -> bytes:
        """The whole body (``await request.body``)."""
        return await self.get_data()

    async def get_json(self, force: bool = True, silent: bool = False) -> Any:
        """The body decoded as JSON, whatever its Content-Type (``force=False`` requires a JSON type).

        Returns ``None`` for an empty body. Undecodable JSON is a 400, unless ``silent``, which returns None.
        """
        if not force and not self.is_json:
            if silent:
                return None
            raise UnsupportedMediaType("Expected a JSON body (Content-Type: application/json).")
        data = await self._json_body()
        if not data:
            return None
        try:
            return decode_json(data, max_depth=self.max_json_depth)
        except HTTPException:
            if silent:
                return None
            raise

    @property
    def max_json_depth(self) -> int:
        """The nesting limit for JSON bodies, in levels of arrays/objects; deeper is a 400 before decoding.

        The request's own (set by middleware such as ``LimitsMiddleware``), else the app's
        (``GOBSTOPPER_JSON_MAX_DEPTH``), else :data:`~gobstopper.settings.DEFAULT_MAX_JSON_DEPTH` (128). Setting
        ``None`` falls back.
        """
        if self._max_json_depth is not None:
            return self._max_json_depth
        app_limit = self.settings.max_json_depth
        return DEFAULT_MAX_JSON_DEPTH if app_limit is None else app_limit

    @max_json_depth.setter
    def max_json_depth(self, value: int | None) -> None:
        self._max_json_depth = value

    async def _json_body(self) -> bytes:
        json_limit = self.settings.max_json_bytes
        if json_limit is not None:
            limit = self.max_body_bytes
            if limit is None or json_limit < limit:
                self.max_body_bytes = json_limit
        return await self.get_data()

    async def json(self, model: Any = None) -> Any:
        """The body decoded as JSON, into ``model`` (a ``msgspec.Struct`` or any msgspec type) when given.

        ``application/json`` and ``application/*+json`` are accepted. Decoders are cached per model.

        Raises:
            UnsupportedMediaType: the Content-Type is not JSON (415).
            BadRequest: the body is not valid JSON, or nests too deep (400).
            RequestTooLarge: the body is over the limit (413).
            BodyValidationError: the JSON does not fit ``model`` (422, naming the field path).
        """
        if not self.is_json:
            raise UnsupportedMediaType("Expected a JSON body (Content-Type: application/json).")
        data = await self._json_body()
        if not data:
            raise BadRequest("Expected a JSON body, got an empty one.")
        return decode_json(data, model, self.max_json_depth)

    async def datastar(self, into: Any = None) -> Any:
        """The Datastar signals this request carries (``?datastar=`` for GET/DELETE, else the JSON body), as a
        dict or decoded into ``into`` (a ``msgspec.Struct``); see ``gobstopper.extensions.datastar.read_signals``.
        """
        from ..extensions.datastar import read_signals

        return await read_signals(self, into)

    # -- forms and files -------------------------------------------------------------------------------------

    async def _parsed_form(self) -> Any:
        if self._form is None:
            self._form = await forms.parse_form(self)
        return self._form

    async def form(self, model: Any = None) -> Any:
        """The form body's text fields as ``{name: [values]}``, or converted into ``model`` when given.

        urlencoded and multipart bodies are parsed while they stream (files are spooled to temporary files),
        with caps: 1,000 fields, 1,000 files, 1 MiB per text field.

        Raises:
            UnsupportedMediaType: not a form body (415).
            BadRequest: malformed or over a cap (400).
            BodyValidationError: the fields do not fit ``model`` (422).
        """
        fields = forms.fields_of(await self._parsed_form())
        return fields if model is None else forms.convert_fields(fields, model)

    async def get_form(self) -> dict[str, list[str]]:
        """The form's text fields as ``{name: [values]}``; ``{}`` when the body is not a form."""
        if self.mimetype not in forms.FORM_TYPES:
            return {}
        return await self.form()

    async def multipart(self, model: Any = None, max_size: int | None = None) -> Any:
        """A ``multipart/form-data`` body's text fields (or ``model``); ``max_size`` lowers the body limit.

        Raises:
            UnsupportedMediaType: the body is not multipart (415).
        """
        if self.mimetype != forms.MULTIPART:
            raise UnsupportedMediaType(f"Expected a {forms.MULTIPART} body.")
        if max_size is not None and (self.max_body_bytes is None or max_size < self.max_body_bytes):
            self.max_body_bytes = max_size
        return await self.form(model)

    async def get_files(self) -> dict[str, FileStorage]:
        """Uploaded files by field name (the first file of each field); ``{}`` for non-multipart bodies.

        A file input left empty is not a file: browsers send it as a part with an empty file name and no content
        (HTML, "constructing the entry list"), and it is left out, so ``"document" in files`` means a file came.
        """
        if self._files is None:
            files: dict[str, FileStorage] = {}
            if self.mimetype == forms.MULTIPART:
                for name, value in (await self._parsed_form()).multi_items():
                    if isinstance(value, str) or name in files:
                        continue
                    if not value.filename and not value.size:
                        continue  # a file input left empty
                    files[name] = FileStorage(name, value)
            self._files = files
        return self._files

    @property
    async def files(self) -> dict[str, FileStorage]:
        """``await request.files``: the same as :meth:`get_files`."""
        return await self.get_files()

    async def bind(self, model: Any, source: str = "auto") -> Any:
        """Build ``model`` from the request: ``source`` is ``"json"``, ``"form"``, ``"multipart"``, ``"query"``
        or ``"auto"`` (JSON or form by Content-Type, the query string for a request without a body type)."""
        if source == "auto":
            mimetype = self.mimetype
            source = "json" if self.is_json else "form" if mimetype in forms.FORM_TYPES else "query"
        if source == "json":
            return await self.json(model)
        if source == "form":
            return await self.form(model)
        if source == "multipart":
            return await self.multipart(model)
        if source == "query":
            return forms.convert_fields(self.args, model)
        raise ValueError(f"unknown bind source {source!r}")

    async def close(self) -> None:
        """Release uploaded files. The framework calls this after each request."""
        form = self._form
        if form is None:
            return
        for storage in (self._files or {}).values():
            await storage.close()
        await form.close()

    # -- content negotiation ---------------------------------------------------------------------------------

    def accepts(self, mimetype: str) -> bool:
        """Whether the client accepts ``mimetype`` (per ``Accept``)."""
        return best_match(self.header("accept"), [mimetype]) is not None

    def best_match(self, offers: list[str]) -> str | None:
        """The offer the client prefers, or ``None``."""
        return best_match(self.header("accept"), offers)


def _ip_in(address: str, networks: Any) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


async def _within(chunks: AsyncIterator[bytes], timeout: float) -> AsyncIterator[bytes]:
    """``chunks``, each awaited for at most ``timeout`` seconds (an idle timeout: the clock runs only while the
    body is awaited, not while the consumer works on a chunk). Raises ``RequestTimeout`` when one is late."""
    iterator = chunks.__aiter__()
    try:
        while True:
            try:
                if _timeout_cm is not None:
                    async with _timeout_cm(timeout):
                        chunk = await iterator.__anext__()
                else:  # Python 3.10: no asyncio.timeout
                    chunk = await asyncio.wait_for(iterator.__anext__(), timeout)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise RequestTimeout(timeout) from None
            yield chunk
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


_timeout_cm: Any = getattr(asyncio, "timeout", None)  # Python >= 3.11
