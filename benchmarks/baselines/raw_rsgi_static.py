"""Raw RSGI static files: ``proto.response_file`` for ``/static/<name>``, the ceiling for static files on Granian.

Serves the regular files directly inside ``BENCH_STATIC_DIR``, each with the header set Gobstopper's
``StaticFileMiddleware`` sends (content-type, content-length, strong etag, last-modified, cache-control,
accept-ranges), computed once at import. Anything else is 404.
"""

from __future__ import annotations

import mimetypes
import os
from email.utils import formatdate
from typing import Any

ROOT = os.environ["BENCH_STATIC_DIR"]


def _headers(path: str) -> list[tuple[str, str]]:
    st = os.stat(path)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return [
        ("content-type", content_type),
        ("content-length", str(st.st_size)),
        ("etag", f'"{st.st_size:x}-{st.st_mtime_ns:x}"'),
        ("last-modified", formatdate(st.st_mtime, usegmt=True)),
        ("cache-control", "public, no-cache"),
        ("accept-ranges", "bytes"),
    ]


#: URL path -> (file path, headers)
FILES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    f"/static/{entry.name}": (entry.path, _headers(entry.path)) for entry in os.scandir(ROOT) if entry.is_file()
}


class App:
    """An RSGI app answering ``/static/<name>`` with ``response_file``."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        """Answer one request straight from the Rust protocol object.

        Args:
            scope: Granian's RSGI scope.
            proto: Granian's HTTP protocol object.
        """
        found = FILES.get(scope.path)
        if found is None:
            proto.response_empty(404, [])
        else:
            proto.response_file(200, found[1], found[0])


app = App()
