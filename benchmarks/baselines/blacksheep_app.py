"""BlackSheep with the same two routes and bodies as ``raw_asgi.py``: an ASGI framework peer (an optional baseline).

BlackSheep is not a dependency of the project. ``benchmarks/run.py --peers blacksheep`` installs it into its own
virtualenv, ``benchmarks/.blacksheep-venv`` (gitignored), with the project's granian, uvicorn, uvloop and httptools
versions, and serves this app from there with the same command lines as the other ASGI apps, from this folder::

    ../.blacksheep-venv/bin/python -m uvicorn --workers 1 --http httptools --loop uvloop blacksheep_app:app

The routes are written the way BlackSheep's documentation recommends for speed: handlers that take only the request
(called without any parameter binding) and return a ``Response`` with a ``Content`` built directly, as in
BlackSheep's TechEmpower entry; for JSON, ``orjson.dumps`` into the ``Content`` instead of the ``json()`` helper
(its JSON-settings page says so: the helper would decode orjson's bytes to ``str`` and encode them again).
"""

from __future__ import annotations

import orjson
from blacksheep import Application, Content, Request, Response

app = Application(show_error_details=False)

PLAINTEXT = b"Hello, World!"
MESSAGE = {"message": "Hello, World!"}


@app.router.get("/plaintext")
async def plaintext(request: Request) -> Response:
    """Return ``Hello, World!`` as ``text/plain``."""
    return Response(200, None, Content(b"text/plain", PLAINTEXT))


@app.router.get("/json")
async def json(request: Request) -> Response:
    """Return ``{"message": "Hello, World!"}`` as ``application/json``, serialised per request."""
    return Response(200, None, Content(b"application/json", orjson.dumps(MESSAGE)))
