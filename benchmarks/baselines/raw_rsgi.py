"""Raw RSGI hello-world: the ceiling for any Python code on Granian.

Also serves ``/json/<int:id>`` (digits only) with ``{"id": id, "message": "Hello, World!"}``, the JSON of the
routing benchmark, encoded by a module-level msgspec encoder as Gobstopper does.

Serve with ``granian --interface rsgi raw_rsgi:app``.
"""

from __future__ import annotations

from typing import Any

import msgspec

PLAINTEXT = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'
PLAIN_HEADERS = [("content-type", "text/plain")]
JSON_HEADERS = [("content-type", "application/json")]
ENCODE = msgspec.json.Encoder().encode


class App:
    """An RSGI app with ``/plaintext``, ``/json`` and ``/json/<int:id>``; anything else is 404."""

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
        elif path.startswith("/json/") and path[6:].isdigit():
            proto.response_bytes(200, JSON_HEADERS, ENCODE({"id": int(path[6:]), "message": "Hello, World!"}))
        else:
            proto.response_empty(404, [])


app = App()
