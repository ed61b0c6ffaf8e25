"""Responses are data: a status, headers and a body of one of three kinds (bytes/str, file, stream).

Turning a response into wire calls is the adapters' job (docs/architecture.md rule 3): they dispatch on ``kind``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, ClassVar
from urllib.parse import quote

import anyio.to_thread
import msgspec

from .._native.statics import content_type as guess_content_type
from .cookies import build_set_cookie
from .headers import HeadersInit, ResponseHeaders, check_header

BYTES = "bytes"
FILE = "file"
STREAM = "stream"

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
OCTET = "application/octet-stream"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

#: Statuses whose responses carry no content (RFC 9110 §15.2, §15.3.5, §15.4.5; RFC 9112 §6.3): informational,
#: 204 No Content and 304 Not Modified. Dispatch strips the body (and its length) of such a response once, so
#: every adapter sends the same head and nothing after it.
BODILESS_STATUSES = frozenset([*range(100, 200), 204, 304])

#: One encoder per process (docs/performance.md: never build one per request).
json_encoder = msgspec.json.Encoder()

Body = str | bytes


_content_type_pairs: dict[str, tuple[str, str]] = {}


def content_type_header(value: str) -> tuple[str, str]:
    """The ``("content-type", value)`` pair, ``value`` checked as a header value.

    An app uses a handful of content types: each pair is checked and built once, then shared by every response.
    """
    pair = _content_type_pairs.get(value)
    if pair is None:
        pair = check_header("content-type", value)
        if len(_content_type_pairs) < 256:
            _content_type_pairs[value] = pair
    return pair


_HTML_HEADER = ("content-type", HTML)
_OCTET_HEADER = ("content-type", OCTET)
_JSON_HEADER = ("content-type", JSON)
_allocate = object.__new__


def json_response(data: Any) -> JSONResponse:
    """``JSONResponse(data)`` without the argument handling: the dispatch fast path for returned dicts/lists."""
    response = _allocate(JSONResponse)
    response.body = json_encoder.encode(data)
    response.status = 200
    response.raw_headers = [_JSON_HEADER]
    return response


def _coerce_body(body: Any) -> tuple[Body, tuple[str, str]]:
    # Subclasses and buffers become plain str/bytes; the pair is the default content-type header.
    if isinstance(body, str):
        return str(body), _HTML_HEADER
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), _OCTET_HEADER
    if hasattr(body, "__html__"):
        return str(body.__html__()), _HTML_HEADER
    raise TypeError(f"Response body must be str or bytes, not {type(body).__name__}; use JSONResponse for data")


#: Every valid status, to itself: one lookup validates and normalises (``200.0`` or a ``Decimal`` give ``200``).
_STATUSES = {status: status for status in range(100, 600)}


def _check_status(status: int) -> int:
    # Granian unwraps the status in Rust: an invalid one would panic the worker, so refuse it here.
    if type(status) is not int:
        status = int(status)
    if not 100 <= status <= 599:
        raise ValueError(f"invalid HTTP status {status!r}")
    return status


class Response:
    """A response with a bytes or str body.

    Args:
        body: ``str`` (sent as UTF-8), ``bytes``, or an object with ``__html__``.
        status: the HTTP status.
        headers: extra headers; values with CR, LF or NUL are refused with ``ValueError``.
        content_type: defaults to ``text/html; charset=utf-8`` for str and ``application/octet-stream`` for bytes.

    Example:
        >>> Response("Hello", headers={"X-Custom": "value"})
    """

    kind: ClassVar[str] = BYTES
    # ``raw_headers`` is the wire list of (lower-case name, value) pairs; ``headers`` is a view over it, built
    # when code asks for it, so a plain handler's response allocates one list and nothing else.
    __slots__ = ("body", "raw_headers", "status")

    def __init__(
        self,
        body: Body | Any = "",
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        kind = type(body)
        if kind is str:
            header = _HTML_HEADER
        elif kind is bytes:
            header = _OCTET_HEADER
        else:
            body, header = _coerce_body(body)
        self.body: Body = body
        self.status = _STATUSES.get(status) or _check_status(status)
        if content_type is not None:
            header = _content_type_pairs.get(content_type) or content_type_header(content_type)
        self.raw_headers = [header]
        if headers:
            self.headers.update(headers)

    @property
    def headers(self) -> ResponseHeaders:
        """The headers: case-insensitive, repeated names kept (``headers.add``); values are validated."""
        return ResponseHeaders.view(self.raw_headers)  # stateless: every view edits raw_headers in place

    @property
    def status_code(self) -> int:
        """Alias of ``status`` (Starlette/httpx name)."""
        return self.status

    @status_code.setter
    def status_code(self, value: int) -> None:
        self.status = _check_status(value)

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, if any."""
        return self.headers.get("content-type")

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.headers["content-type"] = value

    @property
    def data(self) -> bytes:
        """The body as bytes."""
        body = self.body
        return body.encode() if isinstance(body, str) else body

    def get_data(self, as_text: bool = False) -> bytes | str:
        """The body as bytes, or as text with ``as_text=True`` (Flask's name)."""
        return self.data.decode() if as_text else self.data

    def set_cookie(self, name: str, value: str = "", **options: Any) -> None:
        """Add a ``Set-Cookie`` header (``HttpOnly; Secure; SameSite=Lax`` unless told otherwise).

        Args:
            name: cookie name (an HTTP token; anything else is a ``ValueError``).
            value: cookie value; quoted when it holds characters outside RFC 6265 cookie-octets.
            **options: ``max_age``, ``expires``, ``path`` ("/"), ``domain``, ``secure`` (True), ``httponly``
                (True), ``samesite`` ("Lax"; "None" forces Secure), ``partitioned``. ``ENV=production`` forces
                the secure attributes unless ``GOBSTOPPER_ALLOW_INSECURE_COOKIES`` is set.
        """
        self.headers.add("set-cookie", build_set_cookie(name, value, **options))

    def delete_cookie(self, name: str, path: str = "/", domain: str | None = None, **options: Any) -> None:
        """Expire a cookie on the client (``path`` and ``domain`` must match the ones it was set with)."""
        options.setdefault("samesite", "Lax")
        self.headers.add(
            "set-cookie",
            build_set_cookie(name, "", max_age=0, expires=0, path=path, domain=domain, **options),
        )

    def to_rsgi_headers(self) -> list[tuple[str, str]]:
        """The headers as RSGI wants them: ``(name, value)`` tuples, one per ``Set-Cookie``."""
        return self.raw_headers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status} {self.content_type!r}>"


class JSONResponse(Response):
    """A JSON response encoded with msgspec (dicts, lists, ``msgspec.Struct``, dates, UUIDs...).

    Example:
        >>> JSONResponse({"error": "Not found"}, status=404)
    """

    __slots__ = ()

    def __init__(
        self,
        data: Any,
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        self.body = json_encoder.encode(data)
        self.status = _STATUSES.get(status) or _check_status(status)
        self.raw_headers = [_JSON_HEADER if content_type is None else content_type_header(content_type)]
        if headers:
            self.headers.update(headers)


def _content_disposition(filename: str, disposition: str) -> str:
    # RFC 6266 / 8187: an ASCII fallback plus filename* for anything else.
    ascii_name = filename.encode("ascii", "ignore").decode().replace("\\", "").replace('"', "")
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


class FileResponse(Response):
    """A file sent by the server without Python reading it (``response_file`` / ``pathsend``).

    Conditional requests (``If-None-Match``, ``If-Modified-Since``), a single ``Range`` and precompressed
    ``.br``/``.gz`` siblings are answered by the static resolver after the handler returned; a missing file is
    a 404.

    Args:
        path: the file to send (the application vouches for it; use ``send_from_directory`` for user input).
        filename: when given, ``Content-Disposition: attachment`` with this name (download); else inline.
        status: the status for a full answer.
        headers: extra headers.
        content_type: defaults to a guess from the file name.
    """

    kind: ClassVar[str] = FILE
    __slots__ = ("end", "path", "prepared", "start")

    def __init__(
        self,
        path: str | os.PathLike[str],
        filename: str | None = None,
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.body = b""
        self.status = _check_status(status)
        self.start = 0
        self.end: int | None = None  # bytes [start, end) are sent, once the resolver answered
        self.prepared = False
        if content_type is None:
            # The static resolver's table (Rust and Python share it), so both paths type a file alike.
            content_type = guess_content_type(os.path.basename(self.path))
        self.raw_headers = [content_type_header(content_type)]
        if filename is not None:
            self.headers["content-disposition"] = _content_disposition(filename, "attachment")
        if headers:
            self.headers.update(headers)

    @property
    def file_path(self) -> str:
        """The path of the file (reference name)."""
        return self.path


StreamSource = (
    AsyncIterable[str | bytes]
    | Iterable[str | bytes]
    | Callable[[], AsyncIterable[str | bytes] | Iterable[str | bytes]]
)


class StreamResponse(Response):
    """A response whose body is produced chunk by chunk (server-sent events, large exports...).

    Args:
        generator: an async generator / async iterable / iterable of ``str`` or ``bytes`` chunks, or a
            callable returning one. A sync iterable is iterated in a worker thread, one ``next()`` at a time, so
            it may block. It is closed when the client disconnects (its ``finally`` runs). If it raises after the
            head went out, the body is truncated (no terminating chunk where the server allows it) and the error
            is logged once with the app's logger.
        status: the HTTP status.
        headers: extra headers.
        content_type: the media type (``text/plain`` by default, UTF-8 for text types).

    Example:
        >>> async def events():
        ...     yield "data: hello\\n\\n"
        >>> StreamResponse(events(), content_type="text/event-stream")
    """

    kind: ClassVar[str] = STREAM
    __slots__ = ("generator",)

    def __init__(
        self,
        generator: StreamSource,
        status: int = 200,
        headers: HeadersInit = None,
        content_type: str = "text/plain",
    ) -> None:
        self.generator = generator
        self.body = b""
        self.status = _check_status(status)
        if content_type.startswith("text/") and "charset" not in content_type:
            content_type += "; charset=utf-8"
        self.raw_headers = [content_type_header(content_type)]
        if headers:
            self.headers.update(headers)

    def chunks(self) -> AsyncIterator[bytes | str]:
        """The body as an async iterator, whatever kind of source was given."""
        source: Any = self.generator
        if callable(source) and not hasattr(source, "__aiter__") and not hasattr(source, "__iter__"):
            source = source()
        if hasattr(source, "__aiter__"):
            return source.__aiter__()
        return _aiter_sync(source)


_DONE = object()


async def _aiter_sync(source: Iterable[bytes | str]) -> AsyncIterator[bytes | str]:
    # Each ``next()`` runs in a worker thread (as Starlette's iterate_in_threadpool): a sync source may block
    # (a file, a database cursor, a template render) without stalling the event loop. The source is closed on
    # every exit, so its ``finally`` runs when the client leaves.
    iterator = iter(source)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, _DONE)
            if chunk is _DONE:
                return
            yield chunk  # type: ignore[misc]
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def without_body(response: Response) -> Response:
    """``response`` for a status that forbids content (:data:`BODILESS_STATUSES`): the same status and headers,
    an empty body, no ``Content-Length``/``Transfer-Encoding``; a file or stream is neither opened nor iterated.
    """
    if response.kind is BYTES and not response.body:
        if not any(name in _FRAMING_HEADERS for name, _ in response.raw_headers):
            return response
    stripped = Response.__new__(Response)
    stripped.body = b""
    stripped.status = response.status
    stripped.raw_headers = [h for h in response.raw_headers if h[0] not in _FRAMING_HEADERS]
    return stripped


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def redirect(location: str, status: int = 302) -> Response:
    """A redirect to ``location`` (302 by default; 301, 303, 307, 308 as needed).

    Characters that could split the header (CR, LF, NUL) and anything outside printable ASCII are
    percent-encoded, so a redirect target taken from user input cannot inject headers.
    """
    safe_location = quote(str(location), safe="/:?#[]@!$&'()*+,;=%~-._")
    response = Response(b"", status=status)
    del response.headers["content-type"]
    response.headers["location"] = safe_location
    return response


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) for a POSIX timestamp."""
    from email.utils import formatdate

    return formatdate(timestamp, usegmt=True)


__all__ = [
    "FileResponse",
    "JSONResponse",
    "Response",
    "StreamResponse",
    "http_date",
    "json_encoder",
    "redirect",
]
