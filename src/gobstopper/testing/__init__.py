"""Test clients for Gobstopper apps.

- :class:`TestClient` (:mod:`.asgi`) drives the app through ASGI (Starlette's test client; the app object is itself
  an ASGI callable), including the lifespan protocol inside a ``with`` block.
- :class:`RSGITestClient` (:mod:`.rsgi_client`) drives the app through RSGI with fake Granian protocols that mimic
  what Granian 2.8.7 and hyper do on the wire (see ``docs/rsgi-notes.md``): the HTTP one in :mod:`.rsgi_http`
  (decoded ``scope.path``, single-use body reads, the final ``b""`` body chunk, one response per request,
  header-list validation, content-length and HEAD handling, Granian's own 404 for a missing file and the empty 500
  when the app fails) and the websocket one in :mod:`.rsgi_websocket`.

This package must not import granian, uvicorn or ``gobstopper.adapters`` (the core layering rule).
"""

from __future__ import annotations

from ._httpx import httpx
from .asgi import TestClient
from .rsgi_client import RSGITestClient, RSGIWebSocketSession, WebSocketClosed, WebSocketRejected
from .rsgi_http import FakeHTTPProtocol, RSGIHeaders, RSGIProtocolClosed, RSGIProtocolError, RSGIScope
from .rsgi_websocket import FakeWebSocketProtocol, FakeWebSocketTransport

__all__ = [
    "FakeHTTPProtocol",
    "FakeWebSocketProtocol",
    "FakeWebSocketTransport",
    "httpx",
    "RSGIHeaders",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "RSGIScope",
    "RSGITestClient",
    "RSGIWebSocketSession",
    "TestClient",
    "WebSocketClosed",
    "WebSocketRejected",
]
