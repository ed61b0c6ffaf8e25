"""Turning what a handler returns into a Response (the table in docs/design.md §3)."""

from __future__ import annotations

from typing import Any

import msgspec

from ..http.response import JSONResponse, Response, json_response


def _no_content() -> Response:
    response = Response(b"", status=204)
    del response.headers["content-type"]
    return response


def to_response(rv: Any) -> Response:
    """Convert a handler's return value.

    ``Response`` as is; ``dict``/``list``/``msgspec.Struct`` -> JSON; ``str`` -> HTML; ``bytes`` -> octet-stream;
    ``None`` -> 204; ``(body, status)``, ``(body, status, headers)`` and ``(body, headers)`` tuples as in Flask.

    Raises:
        TypeError: a value of any other type (a bug in the handler, so a 500).
    """
    kind = type(rv)
    if kind is dict or kind is list:
        return json_response(rv)
    if isinstance(rv, Response):
        return rv
    if kind is str or kind is bytes:
        return Response(rv)
    if rv is None:
        return _no_content()
    if kind is tuple:
        return _from_tuple(rv)
    if isinstance(rv, (msgspec.Struct, dict, list)):
        return JSONResponse(rv)
    if isinstance(rv, (str, bytes, bytearray)) or hasattr(rv, "__html__"):
        return Response(rv)
    raise TypeError(
        f"a handler returned {kind.__name__}; return a Response, dict, list, Struct, str, bytes, None or a tuple"
    )


def _from_tuple(rv: tuple[Any, ...]) -> Response:
    if len(rv) == 3:
        body, status, headers = rv
    elif len(rv) == 2:
        body, second = rv
        if isinstance(second, (dict, list)) or hasattr(second, "items"):
            status, headers = None, second
        else:
            status, headers = second, None
    else:
        raise TypeError("a returned tuple must be (body, status), (body, headers) or (body, status, headers)")
    response = to_response(body)
    if status is not None:
        response.status_code = status
    if headers:
        response.headers.update(headers)
    return response
