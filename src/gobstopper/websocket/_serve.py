"""Serving one WebSocket connection: admission, mounts, routing, the Origin check, the handler, and the
``finally`` that guarantees every handshake gets an answer.

A handshake that is not accepted is always refused with an explicit HTTP status: Granian <= 2.8.5 kills the
worker when an RSGI websocket ends before ``accept()`` without one (RSGI-NOTES G13), and the reference did
exactly that on every unknown path (UPSTREAM-BEHAVIOUR §7.1 item 1).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ..core._router import BAD_PARAM, FOUND
from ..http.errors import HTTPException
from ._channel import INTERNAL_ERROR, NORMAL_CLOSURE, WebSocketChannel
from ._settings import WebSocketSettings
from .connection import CLOSED, CONNECTING, OPEN, WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from ..core.app import Gobstopper
    from ..http.request import Request

#: Status for a handler that returned (or hung up) without accepting: what ASGI servers answer to a close
#: before accept, and what Granian 2.8.7 answers when the app ends without one.
NOT_ACCEPTED = 403


def origin_status(request: Request, settings: WebSocketSettings) -> int:
    """0 when the handshake's ``Origin`` passes the allow-list, else the HTTP status to refuse it with."""
    if settings.allowed_origins is None:
        return 0
    origins = request.header_all("origin")
    if len(origins) > 1:
        return 400
    if not origins:  # not a browser (browsers always send Origin on a WebSocket handshake)
        return 0 if settings.allow_missing_origin else 403
    return 0 if settings.origin_allowed(origins[0].rstrip("/")) else 403


async def serve(app: Gobstopper, request: Request, channel: WebSocketChannel) -> None:
    """Serve one connection on ``app`` (see :meth:`Gobstopper.handle_websocket`). Never raises."""
    websocket: WebSocket | None = None
    status = 500
    failed = False
    target = app
    try:
        while True:
            if not target._serving:
                early = await target._admit(request)  # starts the app, or 503 while shutting down
                if early is not None:
                    status = early.status
                    return
            sub = target._mounted_app(request) if target._mounts else None
            if sub is None:
                break
            target = sub
        found, route, params = target._ws_router.match("WEBSOCKET", request.path)
        if found != FOUND:
            status = 400 if found == BAD_PARAM else 404
            return
        request._route = route
        request._params = params
        settings = target.settings.websocket
        status = origin_status(request, settings)
        if status:
            return
        websocket = WebSocket(request, channel, params, settings)
        target._websockets.add(websocket)  # so shutdown can close it (1001)
        rv = route.handler(websocket, **params)
        if inspect.isawaitable(rv):
            await rv
        status = NOT_ACCEPTED
    except WebSocketDisconnect:
        status = NOT_ACCEPTED  # the peer left (or the app closed): nothing went wrong on our side
    except HTTPException as exc:  # abort(401) before accept is how a handler refuses with a status
        status = exc.status_code if 400 <= exc.status_code <= 599 else 500
        failed = True
    except Exception as exc:
        status, failed = 500, True
        target.logger.error(
            "unhandled exception in WebSocket %s", request.path, exc_info=(type(exc), exc, exc.__traceback__)
        )
    finally:
        if websocket is not None:
            target._websockets.discard(websocket)
        await _finish(target, websocket, channel, status, failed)


async def _finish(app: Any, websocket: WebSocket | None, channel: WebSocketChannel, status: int, failed: bool) -> None:
    try:
        if websocket is None or websocket._state == CONNECTING:
            if websocket is not None:
                websocket._state = CLOSED
            await channel.refuse(status)
        elif websocket._state == OPEN:
            await websocket._close(INTERNAL_ERROR if failed else NORMAL_CLOSURE, "", flush=True)
        if websocket is not None:
            await websocket._teardown()
    except Exception:  # pragma: no cover - refuse/shut never raise; keep the server alive regardless
        app.logger.exception("closing a WebSocket failed")
