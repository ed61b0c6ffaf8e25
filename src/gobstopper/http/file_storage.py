"""Uploaded files: ``FileStorage`` (Werkzeug's name) over Starlette's spooled ``UploadFile``, ``secure_filename``,
and :class:`UploadSpool`, the spooled file uploads are written to."""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
import weakref
from collections.abc import Awaitable, Generator
from typing import IO, Any, cast

from starlette.datastructures import UploadFile

from .errors import BadRequest

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{p}{i}" for p in ("COM", "LPT") for i in (*"0123456789", "\u00b9", "\u00b2", "\u00b3")}
)


def secure_filename(filename: str | None) -> str:
    """A name safe to use on any file system: ASCII letters, digits, ``_``, ``-`` and ``.`` only, never empty.

    Path separators become ``_``, leading dots and underscores go, Windows device names get a ``_`` prefix.

    Raises:
        BadRequest: nothing safe is left (``None``, as ``FileStorage.filename`` is for a part named ``..`` or with
            no name, ``""``, ``"../.."``, ``"***"``): a 400 for the client that sent it, as Django's
            ``get_valid_filename`` refuses such names, rather than a path naming the upload directory itself.
            Catch it to use a name of your own instead.

    Example:
        >>> secure_filename("../../etc/passwd")
        'etc_passwd'
    """
    name = unicodedata.normalize("NFKD", filename or "").encode("ascii", "ignore").decode("ascii")
    for sep in ("/", "\\"):
        name = name.replace(sep, " ")
    name = _UNSAFE.sub("", "_".join(name.split())).strip("._")
    if not name:
        raise BadRequest("The uploaded file's name has nothing in it that is safe to store the file under.")
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        name = f"_{name}"
    return name


def display_filename(raw: str | None) -> str | None:
    """The client's file name reduced to a display-only basename (never a path, no control characters)."""
    if raw is None:
        return None
    base = _CONTROL.sub("", raw.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return base if base and base not in (".", "..") else None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class UploadSpool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """Where an upload's bytes go: memory up to ``max_size``, then a *named* private temporary file.

    Python's own spooled file rolls over into an unnamed file that cannot be linked anywhere; this one rolls over
    into ``tempfile.mkstemp()`` (mode 0600, in ``tempfile.gettempdir()``, i.e. ``TMPDIR``), so
    :meth:`FileStorage.save` can give the finished upload its destination name instead of copying it. The
    temporary name is removed when the spool is closed or collected.

    Attributes:
        path: the temporary file's name once rolled over to disk (``None`` in memory, or once moved away).
    """

    path: str | None = None
    _unlinker: weakref.finalize | None = None  # type: ignore[type-arg]

    def rollover(self) -> None:
        if self._rolled:  # type: ignore[has-type]
            return
        fd, path = tempfile.mkstemp(prefix="gobstopper-upload-")
        newfile = os.fdopen(fd, "w+b")
        self._unlinker = weakref.finalize(self, _unlink, path)
        old = cast(io.BytesIO, self._file)  # type: ignore[has-type]  # in memory until now
        position = old.tell()
        newfile.write(old.getvalue())
        newfile.seek(position)
        self._file = newfile
        self._rolled = True
        self.path = path

    def forget_path(self) -> None:
        """Remove the temporary name now (the open file stays readable): it was linked elsewhere."""
        self.path = None
        if self._unlinker is not None:
            self._unlinker()

    def close(self) -> None:
        super().close()
        if self._unlinker is not None:
            self._unlinker()


def _umask() -> int:
    """The process umask, without changing it (Linux reads it from /proc; elsewhere it is set and restored)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link_into_place(spool: UploadSpool, destination: str) -> bool:
    """Give the spool's on-disk file the name ``destination`` (replacing it), without copying a byte.

    The file is hard-linked under a random name in the destination's directory, given the mode a newly created
    file would have (``0o666 & ~umask``, as ``open(destination, "wb")`` gives), and renamed over the destination
    (atomic: readers see the old file or the whole new one). False when linking is impossible (another file
    system, a file system without hard links, ...): the caller copies instead.
    """
    source = spool.path
    if source is None:
        return False
    spool.flush()
    directory, name = os.path.split(os.path.abspath(destination))
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.upload")
    try:
        os.link(source, temporary)
    except OSError:
        return False
    # Moved: the temporary name goes first (so the private file is never readable under it after the chmod).
    spool.forget_path()
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, destination)
    except BaseException:
        _unlink(temporary)
        raise
    return True


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
        """Write the whole upload to ``destination`` (a path, replaced if it exists, or a binary file object).

        When ``save()`` returns, the file is complete (Flask's semantics): the reference's ``file.save(path)``
        followed by ``os.path.getsize(path)`` works. ``await file.save(path)`` works too (the returned awaitable
        is already done). No large copy happens on the event loop: an upload bigger than the 1 MiB spool is
        already a file on disk, which is *moved* to ``destination`` (hard-linked, then renamed over it) when
        both are on the same file system; only smaller uploads, file-object destinations and other file systems
        are copied. Keep the upload directory on the file system of ``TMPDIR`` to benefit.

        Raises:
            OSError: the destination cannot be written.
        """
        spool = self._upload.file
        if not hasattr(destination, "write"):
            path = os.fspath(destination)  # type: ignore[arg-type]
            if isinstance(spool, UploadSpool) and _link_into_place(spool, path):
                return _DONE
            source = getattr(spool, "path", None)
            if source is not None:  # on disk, another file system: the kernel copies (copy_file_range/sendfile)
                spool.flush()
                shutil.copyfile(source, path)
                return _DONE
            with open(path, "wb") as target:
                self._copy_to(target)
            return _DONE
        self._copy_to(destination)  # type: ignore[arg-type]
        return _DONE

    def _copy_to(self, target: IO[bytes]) -> None:
        source = self._upload.file
        source.seek(0)
        shutil.copyfileobj(source, target)

    async def close(self) -> None:
        """Release the temporary file."""
        await self._upload.close()


class _Done:
    """An already finished save: ``await file.save(path)`` keeps working."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


_DONE = _Done()
