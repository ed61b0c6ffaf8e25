"""Flask-style helpers: ``jsonify``, ``abort``, ``make_response``, ``send_file``, ``send_from_directory``."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from .errors import HTTPException, NotFound
from .response import FileResponse, JSONResponse, Response


def jsonify(*args: Any, **kwargs: Any) -> JSONResponse:
    """A JSON response from one value, several values (a list) or keyword arguments (an object)."""
    if args and kwargs:
        raise TypeError("jsonify() takes either positional or keyword arguments, not both")
    if len(args) == 1:
        return JSONResponse(args[0])
    return JSONResponse(list(args) if args else kwargs)


def abort(status: int | Response, description: str | None = None, **kwargs: Any) -> NoReturn:
    """Stop the request with an HTTP error (``abort(404, "User not found")``) or a ready response."""
    if isinstance(status, Response):
        raise HTTPException(status.status, description, response=status)
    raise HTTPException(status, description, **kwargs)


def make_response(*args: Any) -> Response:
    """A response from what a handler could return: ``make_response({"id": 1}, 201, {"X-Id": "1"})``."""
    from ..core._returns import to_response

    if not args:
        return Response()
    return to_response(args[0] if len(args) == 1 else args)


def send_file(
    path: str | os.PathLike[str],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
) -> FileResponse:
    """Send a file the application chose (never pass user input here: use :func:`send_from_directory`)."""
    filename = None
    if as_attachment:
        filename = download_name or os.path.basename(os.fspath(path))
    return FileResponse(path, filename=filename, content_type=mimetype)


def safe_join(directory: str | os.PathLike[str], *parts: str) -> str | None:
    """Join untrusted ``parts`` under ``directory``; ``None`` if the result could leave it.

    Refuses ``..`` segments, backslashes, NUL, absolute and drive paths, and symlinks resolving outside.
    """
    root = os.path.realpath(directory)
    pieces: list[str] = []
    for part in parts:
        if not part or "\x00" in part or "\\" in part or part.startswith("/") or (len(part) > 1 and part[1] == ":"):
            return None
        for seg in part.split("/"):
            if seg in ("..",):
                return None
            if seg and seg != ".":
                pieces.append(seg)
    if not pieces:
        return None
    candidate = os.path.join(root, *pieces)
    try:
        real = os.path.realpath(candidate)
    except (OSError, ValueError):
        return None
    if os.path.commonpath([root, real]) != root:
        return None
    return real


def send_from_directory(directory: str | os.PathLike[str], path: str, **kwargs: Any) -> FileResponse:
    """Send ``path`` (user input is fine) from inside ``directory``; anything else is a 404.

    Raises:
        NotFound: the path leaves the directory, does not exist or is not a regular file.
    """
    real = safe_join(directory, path)
    if real is None or not os.path.isfile(real):
        raise NotFound()
    return send_file(real, **kwargs)


async def stream_template(template_name: str, **context: Any) -> Response:
    """Flask's ``stream_template``: the template rendered in chunks, as they are produced, for the app handling the
    current request (``await app.stream_template(...)`` when the app is at hand).

    Raises:
        RuntimeError: outside a request of an app whose templates are set up (``app.init_templates()``).
    """
    from ..templates._context import current_request  # no Jinja2: only the request the templates know of

    request = current_request()
    app = getattr(request, "app", None)
    if app is None:
        raise RuntimeError(
            "stream_template() needs a request of an app whose templates are set up (app.init_templates())"
        )
    response: Response = await app.stream_template(template_name, **context)
    return response
