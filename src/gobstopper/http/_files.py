"""Turning a file answer of the static resolver (Rust or its Python twin) into a response.

The resolver decides everything about a file request (safe path, validators, 304, a single Range, precompressed
siblings, 416); this module only maps its result onto response objects. File bytes are never read here: the
adapter hands the path and byte range to the server.
"""

from __future__ import annotations

import os
from typing import Any

from .. import _native
from .errors import MethodNotAllowed, NotFound
from .response import FileResponse, Response

_CONDITIONAL = ("GET", "HEAD")


def response_from_result(result: Any) -> Response:
    """The response for a resolver result (``status``, ``path``, ``headers``, ``start``, ``end``).

    Raises:
        NotFound: the resolver refused or did not find the path (one answer for both, on purpose).
        MethodNotAllowed: a method other than GET or HEAD.
    """
    status = result.status
    if status == 200 or status == 206:
        response = FileResponse.__new__(FileResponse)
        response.path = result.path
        response.body = b""
        response.status = status
        response.start = result.start
        response.end = result.end
        response.raw_headers = list(result.headers)
        response.prepared = True
        return response
    if status == 404:
        raise NotFound()
    if status == 405:
        raise MethodNotAllowed({"GET", "HEAD"})
    empty = Response(b"", status=status)  # 304, 412, 416: validators, Vary or Content-Range only, no body
    empty.raw_headers[:] = list(result.headers)
    return empty


def prepare_file(response: FileResponse, method: str, header: Any) -> Response:
    """Answer a handler's ``FileResponse`` for this request (preconditions, Range, encodings: RFC 9110 §13.2.2).

    The application chose the file, so symlinks are followed; its own headers (type, disposition, anything
    it set) win over the resolver's, except the framing ones the resolver computes.

    Raises:
        NotFound: the file is missing or not a regular file.
    """
    path = os.path.abspath(response.path)
    conditional = method in _CONDITIONAL and response.status == 200
    result = _native.resolve_static(
        os.path.dirname(path),
        os.path.basename(path),
        method if conditional else "GET",
        header("if-none-match") if conditional else None,
        header("if-modified-since") if conditional else None,
        header("range") if conditional else None,
        header("accept-encoding"),
        True,
        if_match=header("if-match") if conditional else None,
        if_unmodified_since=header("if-unmodified-since") if conditional else None,
        if_range=header("if-range") if conditional else None,
    )
    prepared = response_from_result(result)
    own = response.raw_headers
    names = {name for name, _ in own}
    computed = [h for h in prepared.raw_headers if h[0] not in names or h[0] in _FRAMING]
    prepared.raw_headers[:] = computed + [h for h in own if h[0] not in _FRAMING]
    if prepared.status == 200 and response.status != 200:
        prepared.status = response.status
    return prepared


# Computed from the file itself: the application's values would be wrong.
_FRAMING = frozenset({"content-length", "content-range", "content-encoding", "etag", "last-modified"})
