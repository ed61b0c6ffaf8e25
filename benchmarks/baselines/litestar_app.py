"""Litestar with the same two routes and bodies as ``raw_asgi.py``: an ASGI framework peer (an optional baseline).

Litestar is not a dependency of the project. ``benchmarks/run.py --peers litestar`` installs it into its own
virtualenv, ``benchmarks/.litestar-venv`` (gitignored), with the project's granian, uvicorn, uvloop and httptools
versions, and serves this app from there with the same command lines as the other ASGI apps, from this folder::

    ../.litestar-venv/bin/python -m uvicorn --workers 1 --http httptools --loop uvloop litestar_app:app

The routes are written the way Litestar's documentation writes them: ``async`` handlers (no thread hop) declared
with ``@get``. The JSON one returns a ``dict`` under a return annotation, which Litestar serialises with msgspec,
its default encoder (as Gobstopper's handler returns a ``dict`` its framework serialises); the plaintext one
declares ``media_type=MediaType.TEXT`` and returns ``bytes``, which Litestar sends as they are, as in Litestar's
TechEmpower entry.
"""

from litestar import Litestar, MediaType, get


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> bytes:
    """Return ``Hello, World!`` as ``text/plain``."""
    return b"Hello, World!"


@get("/json")
async def json() -> dict[str, str]:
    """Return ``{"message": "Hello, World!"}`` as ``application/json``."""
    return {"message": "Hello, World!"}


app = Litestar(route_handlers=[plaintext, json])
