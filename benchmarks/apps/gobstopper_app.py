"""The Gobstopper side of the hello-world benchmark: same routes and bodies as the baselines."""

from __future__ import annotations

from gobstopper import Gobstopper, Request
from gobstopper.http.response import Response

app = Gobstopper(__name__)


@app.get("/plaintext")
async def plaintext(request: Request) -> Response:
    """Return ``Hello, World!`` as text/plain."""
    return Response(b"Hello, World!", content_type="text/plain")


@app.get("/json")
async def json(request: Request) -> dict[str, str]:
    """Return ``{"message": "Hello, World!"}`` (serialised by the framework)."""
    return {"message": "Hello, World!"}
