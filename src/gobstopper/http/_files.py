"""Answering a FileResponse for one request: stat, validators, conditional requests and a single Range.

The file's bytes are never read here; the adapter hands the path (and byte range) to the server.
"""

from __future__ import annotations

import os
import stat as stat_module
from email.utils import formatdate, parsedate_to_datetime

from .errors import NotFound
from .response import FileResponse, Response


def _etag(st: os.stat_result) -> str:
    return f'W/"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    opaque = etag[2:]
    return any(tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One ``bytes=`` range -> ``(start, end_exclusive)``; ``False`` if unsatisfiable; ``None`` to ignore it.

    Malformed headers, other units and multiple ranges are ignored (the full file is sent), as RFC 9110 allows.
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isascii() and last.isascii()):
        return None
    if first and not first.isdigit() or last and not last.isdigit() or not (first or last):
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None
    if start >= size:
        return False
    return start, end


def prepare_file(response: FileResponse, method: str, header: callable) -> Response:  # type: ignore[valid-type]
    """Fill in the headers of ``response`` for this request, or answer 304 / 416 instead.

    Args:
        response: the file response a handler returned.
        method: the request method (conditional GET/HEAD only).
        header: ``header(name) -> str | None`` for the request's headers.

    Raises:
        NotFound: the file is missing or not a regular file.
    """
    try:
        st = os.stat(response.path)
    except (OSError, ValueError):
        raise NotFound() from None
    if not stat_module.S_ISREG(st.st_mode):
        raise NotFound()
    size = st.st_size
    etag = _etag(st)
    headers = response.headers
    headers["etag"] = etag
    headers["last-modified"] = formatdate(st.st_mtime, usegmt=True)
    headers["accept-ranges"] = "bytes"
    if method in ("GET", "HEAD") and response.status == 200:
        inm = header("if-none-match")
        if inm is not None:
            not_modified = _etag_matches(inm, etag)
        else:
            ims = header("if-modified-since")
            not_modified = ims is not None and _not_modified_since(ims, st.st_mtime)
        if not_modified:
            answer = Response(b"", status=304)
            del answer.headers["content-type"]
            for name in ("etag", "last-modified", "cache-control", "vary"):
                if name in headers:
                    answer.headers[name] = headers[name]
            return answer
        range_header = header("range")
        if range_header is not None:
            bounds = parse_range(range_header, size)
            if bounds is False:
                answer = Response(b"", status=416)
                answer.headers["content-range"] = f"bytes */{size}"
                return answer
            if bounds is not None:
                start, end = bounds
                response.status, response.start, response.end = 206, start, end
                headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
                headers["content-length"] = str(end - start)
                return response
    response.start, response.end = 0, size
    headers["content-length"] = str(size)
    return response


def _not_modified_since(value: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return int(mtime) <= since
