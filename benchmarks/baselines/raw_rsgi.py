"""Raw RSGI hello-world: the ceiling for any Python code on Granian.

Serve with ``granian --interface rsgi raw_rsgi:app``.
"""

from __future__ import annotations

from typing import Any

PLAINTEXT = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'
PLAIN_HEADERS = [("content-type", "text/plain")]
JSON_HEADERS = [("content-type", "application/json")]


class App:
    """An RSGI app with ``/plaintext`` and ``/json``; anything else is 404."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """Answer one request straight from the Rust protocol object.

        Args:
            scope: Granian's RSGI scope.
            proto: Granian's HTTP protocol object.
        """
        path = scope.path
        if path == "/plaintext":
            proto.response_bytes(200, PLAIN_HEADERS, PLAINTEXT)
        elif path == "/json":
            proto.response_bytes(200, JSON_HEADERS, JSON)
        else:
            proto.response_empty(404, [])


app = App()
