"""WebSockets: the connection API and the room manager.

>>> from gobstopper.websocket import WebSocket, WebSocketDisconnect, WebSocketManager
"""

from __future__ import annotations

from ..adapter import ChannelClosed, WebSocketChannel
from ._settings import MAX_WS_MESSAGE_BYTES, WS_SEND_CHUNK_BYTES, WebSocketSettings
from .connection import ConnectionClosed, WebSocket, WebSocketDisconnect, WebSocketMessage
from .manager import WebSocketManager

__all__ = [
    "MAX_WS_MESSAGE_BYTES",
    "WS_SEND_CHUNK_BYTES",
    "ChannelClosed",
    "ConnectionClosed",
    "WebSocket",
    "WebSocketChannel",
    "WebSocketDisconnect",
    "WebSocketManager",
    "WebSocketMessage",
    "WebSocketSettings",
]
