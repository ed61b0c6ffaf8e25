"""Static files, resolved by the Rust resolver (or its Python twin) and sent by the server.

Two ways in: a static folder served as a route (``Gobstopper(static_folder=...)``, ``Blueprint(static_folder=...)``:
Flask's ``<static_url_path>/<path:filename>``, named ``static``), and the reference's ``StaticFileMiddleware``.
Both answer through :class:`StaticFolder`; neither costs a request elsewhere anything.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import _native
from ..http._files import response_from_result
from ..http.response import Response

if TYPE_CHECKING:
    from ..http.request import Request


class StaticFolder:
    """The files of one directory, as responses.

    Paths are checked before any file system access (no ``..``, backslashes, NUL, absolute or drive paths,
    device names) and symlinks leaving the directory are refused; anything refused or missing is the same 404.
    Answers carry ``Content-Type``, ``Content-Length``, a strong ``ETag`` (size and nanosecond mtime),
    ``Last-Modified``, ``Cache-Control`` (a year and ``immutable`` for fingerprinted names such as
    ``app.3f9a1c2b.js``), ``Accept-Ranges``; they honour the preconditions of RFC 9110 §13.2.2 in its order
    (``If-Match``/``If-Unmodified-Since``: 412; ``If-None-Match``/``If-Modified-Since``: 304; ``If-Range``), one
    ``Range`` (206, or 416), and precompressed ``.br``/``.gz`` siblings chosen by ``Accept-Encoding`` (with
    ``Vary``). Python never reads the bytes: under RSGI Granian sends the file, under ASGI ``pathsend`` or chunks
    read off the event loop.

    Args:
        directory: the directory to serve (must exist).
        follow_symlinks: also serve symlinks pointing outside ``directory`` (off by default).
    """

    def __init__(self, directory: str | os.PathLike[str], follow_symlinks: bool = False) -> None:
        self.directory = os.fspath(directory)
        self.resolver = _native.StaticResolver(self.directory, follow_symlinks)

    def respond(self, request: Request, relative_path: str) -> Response:
        """The answer for ``relative_path`` inside the directory (200, 206, 304, 412, 416).

        Raises:
            NotFound: refused or missing (one answer for both, on purpose).
            MethodNotAllowed: a method other than GET or HEAD.
        """
        header = request.header
        result = self.resolver.resolve(
            relative_path,
            request.method,
            header("if-none-match"),
            header("if-modified-since"),
            header("range"),
            header("accept-encoding"),
            if_match=header("if-match"),
            if_unmodified_since=header("if-unmodified-since"),
            if_range=header("if-range"),
        )
        return response_from_result(result)


class StaticFileMiddleware:
    """Serve the files of ``static_dir`` under ``url_prefix`` (``/static/app.css`` -> ``static/app.css``), as the
    reference's middleware; see :class:`StaticFolder` for what the answers carry.

    The prefix matches whole segments: ``/static`` does not catch ``/staticfoo``. Other paths go on to the app.
    The middleware declares ``path_prefix``, so routes that can never see a path under it are composed without it:
    adding it costs a request to the rest of the app nothing (``docs/architecture.md``).

    Args:
        static_dir: the directory to serve (must exist).
        url_prefix: where it is mounted.
        follow_symlinks: also serve symlinks pointing outside ``static_dir`` (off by default).

    Example:
        >>> app.add_middleware(StaticFileMiddleware("static", url_prefix="/static"), priority=1000)
    """

    def __init__(self, static_dir: str | os.PathLike[str] = "static", url_prefix: str = "/static",
                 follow_symlinks: bool = False) -> None:  # fmt: skip
        self.folder = StaticFolder(static_dir, follow_symlinks)
        self.static_dir = self.folder.directory
        self.url_prefix = "/" + url_prefix.strip("/") if url_prefix.strip("/") else ""
        self.path_prefix = self.url_prefix or "/"
        self.resolver = self.folder.resolver
        self.__name__ = f"static({self.url_prefix or '/'})"

    def match(self, path: str) -> str | None:
        """The path relative to the directory, or None when ``path`` is not under the prefix."""
        prefix = self.url_prefix
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix) :]
        if prefix and rest and rest[0] != "/":
            return None  # /staticfoo is not under /static
        return rest.lstrip("/") if prefix else rest[1:]

    async def __call__(self, request: Request, call_next: Any) -> Response:
        rel = self.match(request.path)
        if rel is None:
            return await call_next(request)
        try:
            return self.folder.respond(request, rel)
        except Exception as exc:  # 404 / 405: answered with the app's own error pages
            return await request.app.handle_exception(request, exc)


#: The reference's other names for the static middleware (the app-core guide's ``StaticMiddleware``, and the Rust
#: and hybrid ones): one implementation here, which uses Rust when ``gobstopper_rs`` is installed and its Python
#: twin otherwise.
StaticMiddleware = StaticFileMiddleware
RustStaticMiddleware = StaticFileMiddleware
HybridStaticMiddleware = StaticFileMiddleware
