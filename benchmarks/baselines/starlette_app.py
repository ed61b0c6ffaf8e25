"""Starlette with the same two routes: the ASGI framework users would otherwise pick."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def plaintext(request: Request) -> Response:
    """Return ``Hello, World!`` as text/plain."""
    return PlainTextResponse("Hello, World!")


async def json(request: Request) -> Response:
    """Return ``{"message": "Hello, World!"}`` as application/json."""
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route("/plaintext", plaintext), Route("/json", json)])
