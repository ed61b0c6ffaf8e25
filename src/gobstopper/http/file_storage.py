"""Uploaded files: ``FileStorage`` (Werkzeug's name) over Starlette's spooled ``UploadFile``, and
``secure_filename``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import unicodedata
from collections.abc import Awaitable, Generator
from typing import IO, Any

from starlette.datastructures import UploadFile

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{p}{i}" for p in ("COM", "LPT") for i in (*"0123456789", "\u00b9", "\u00b2", "\u00b3")}
)


def secure_filename(filename: str) -> str:
    """A name safe to use on any file system: ASCII letters, digits, ``_``, ``-`` and ``.`` only.

    Path separators become ``_``, leading dots and underscores go, Windows device names get a ``_`` prefix.
    May return ``""`` (e.g. for ``"../.."``): callers must then pick a name themselves.

    Example:
        >>> secure_filename("../../etc/passwd")
        'etc_passwd'
    """
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    for sep in ("/", "\\"):
        name = name.replace(sep, " ")
    name = _UNSAFE.sub("", "_".join(name.split())).strip("._")
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        name = f"_{name}"
    return name


def display_filename(raw: str | None) -> str | None:
    """The client's file name reduced to a display-only basename (never a path, no control characters)."""
    if raw is None:
        return None
    base = _CONTROL.sub("", raw.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return base if base and base not in (".", "..") else None


class FileStorage:
    """An uploaded file. The data is spooled (memory up to 1 MiB, then a temporary file), never held whole.

    Attributes:
        name: the form field name.
        filename: the client's file name as a display-only basename (use :func:`secure_filename` to store it).
        content_type: the part's declared media type.
    """

    def __init__(self, name: str, upload: UploadFile) -> None:
        self.name = name
        self._upload = upload
        self.filename = display_filename(upload.filename)
        self.content_type = upload.content_type or "application/octet-stream"
        self._pending: list[asyncio.Future[Any]] = []

    def __repr__(self) -> str:
        return f"<FileStorage {self.name!r} filename={self.filename!r} {self.content_type!r}>"

    @property
    def stream(self) -> IO[bytes]:
        """The underlying (spooled) file object."""
        return self._upload.file

    @property
    def size(self) -> int | None:
        """The number of bytes received."""
        return self._upload.size

    @property
    def headers(self) -> Any:
        """The part's headers."""
        return self._upload.headers

    async def read(self, size: int = -1) -> bytes:
        """Read from the file (in a worker thread once it rolled over to disk)."""
        return await self._upload.read(size)

    async def seek(self, offset: int) -> None:
        """Move the read position."""
        await self._upload.seek(offset)

    def save(self, destination: str | os.PathLike[str] | IO[bytes]) -> Awaitable[None]:
        """Copy the file to ``destination`` in a worker thread, so the event loop never blocks on disk.

        Returns an awaitable: ``await file.save(path)`` waits for the copy. Code written for the reference
        (``file.save(path)`` without ``await``) still saves: the request does not finish before pending saves
        did. Outside an event loop the copy happens at once.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._copy(destination)
            return _Done()
        future = loop.run_in_executor(None, self._copy, destination)
        self._pending.append(future)
        return future

    def _copy(self, destination: str | os.PathLike[str] | IO[bytes]) -> None:
        source = self._upload.file
        source.seek(0)
        if hasattr(destination, "write"):
            shutil.copyfileobj(source, destination)  # type: ignore[arg-type]
            return
        with open(destination, "wb") as target:  # type: ignore[arg-type]
            shutil.copyfileobj(source, target)

    async def close(self) -> None:
        """Wait for pending saves, then release the temporary file."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._upload.close()


class _Done:
    """An already finished save (made outside an event loop)."""

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()
