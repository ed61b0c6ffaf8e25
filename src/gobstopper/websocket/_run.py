"""Running one accepted-or-refused WebSocket connection: the handler, then the ``finally`` that guarantees every
handshake an answer and every open connection a close.

Dispatch (``gobstopper.core._dispatch``) has already admitted, routed and Origin-checked the handshake; this module
knows nothing of the app. A handshake the handler does not accept is refused with an explicit HTTP status: Granian
ends a worker when an RSGI websocket ends before ``accept()`` without one, and the reference implementation did
exactly that on every unknown path (``docs/rsgi-notes.md``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..adapter import INTERNAL_ERROR, NORMAL_CLOSURE, WebSocketChannel
from ..http.errors import HTTPException
from ._settings import WebSocketSettings
from .connection import CLOSED, CONNECTING, OPEN, WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
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


async def run_websocket(
    handler: Callable[..., Any],
    request: Request,
    channel: WebSocketChannel,
    params: dict[str, Any],
    settings: WebSocketSettings,
    open_websockets: set[WebSocket],
    logger: logging.Logger,
) -> None:
    """Call ``handler(websocket, **params)`` and end the connection properly whatever happens. Never raises.

    ``open_websockets`` holds the connection while the handler runs (so shutdown can close it with 1001).
    """
    websocket = WebSocket(request, channel, params, settings)
    open_websockets.add(websocket)
    status, failed = NOT_ACCEPTED, False
    try:
        rv = handler(websocket, **params)
        if inspect.isawaitable(rv):
            await rv
    except WebSocketDisconnect:
        pass  # the peer left (or the app closed): nothing went wrong on our side
    except HTTPException as exc:  # abort(401) before accept is how a handler refuses with a status
        status = exc.status_code if 400 <= exc.status_code <= 599 else 500
        failed = True
    except Exception as exc:
        status, failed = 500, True
        logger.error("unhandled exception in WebSocket %s", request.path, exc_info=(type(exc), exc, exc.__traceback__))
    finally:
        open_websockets.discard(websocket)
        try:
            if websocket._state == CONNECTING:
                websocket._state = CLOSED
                await channel.reject(status)
            elif websocket._state == OPEN:
                await websocket._close(INTERNAL_ERROR if failed else NORMAL_CLOSURE, "", flush=True)
            await websocket._teardown()
        except Exception:  # pragma: no cover - reject/close never raise; keep the server alive regardless
            logger.exception("closing a WebSocket failed")
