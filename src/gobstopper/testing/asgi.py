"""The ASGI test client: Starlette's ``TestClient`` bound to a Gobstopper app (the app object is itself an ASGI
callable), with the request path decoded once, as servers do."""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import unquote

from ._httpx import httpx  # noqa: F401 - first, for its clear error when no httpx client is installed

with warnings.catch_warnings():
    # Starlette 1.x warns at import time when only httpx (not httpx2) is installed. The warning is about
    # Starlette's own dependency choice, not about our usage; keep it from failing `-W error` test runs.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from starlette.testclient import TestClient as _StarletteTestClient


class _DecodePathOnce:
    """Give the app the ``path`` a real server would: ``raw_path`` percent-decoded exactly once.

    Starlette's test client unquotes ``httpx.URL.path``, which httpx has already decoded, so ``/%2541`` reached
    the app as ``/A`` instead of ``/%41`` (uvicorn and Granian both give ``/%41``).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw_path = scope.get("raw_path")
        if raw_path is not None and scope.get("type") in ("http", "websocket"):
            scope = {**scope, "path": unquote(raw_path.decode("latin-1"))}
        await self.app(scope, receive, send)


class TestClient(_StarletteTestClient):
    """Starlette's TestClient bound to a Gobstopper app (which is an ASGI app itself).

    ``with TestClient(app) as client:`` runs ASGI lifespan startup/shutdown around the block. The API is
    Starlette's (httpx's); the only difference is that ``scope["path"]`` is decoded once, as servers do.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(_DecodePathOnce(app), *args, **kwargs)  # type: ignore[arg-type]  # an ASGI 3 app
        self.app = app  # callers see their own app, not the wrapper


__all__ = ["TestClient"]
