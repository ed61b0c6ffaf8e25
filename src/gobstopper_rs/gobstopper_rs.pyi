"""Type stubs for gobstopper_rs: the native router and static-file resolver (see STATIC.md)."""

from collections.abc import Iterable
from os import PathLike
from typing import Any, Final, final

__version__: Final[str]

FOUND: Final = 0
BAD_PARAM: Final = 1
METHOD_NOT_ALLOWED: Final = 2
NOT_FOUND: Final = 3

#: The regex (Python syntax) of each native convertor: Starlette's, and ours for ``date``. If Starlette's registry
#: holds a different regex (or class) for one of these names, use the Python router.
CONVERTOR_REGEXES: Final[dict[str, str]]

#: ``(extension, content type)`` pairs, sorted by extension; ``text/*`` types get ``; charset=utf-8``.
MIME_TYPES: Final[list[tuple[str, str]]]

class RouteConflict(ValueError):
    """Two routes claim the same method for the same pattern."""

class UnsupportedConvertor(ValueError):
    """The route uses a convertor other than str, int, float, uuid, path, date: use the Python router."""

@final
class Router:
    """Same API and answers as ``gobstopper._native.router.Router``."""

    def __init__(self) -> None: ...
    def add(self, pattern: str, methods: Iterable[str], endpoint: object) -> None:
        """Raises ValueError (bad pattern), RouteConflict, UnsupportedConvertor."""
    def match(self, method: str, path: str) -> tuple[int, Any, Any]:
        """``(0, endpoint, params)`` | ``(1, name, message)`` | ``(2, frozenset[str], None)`` | ``(3, None, None)``."""

@final
class StaticResult:
    @property
    def status(self) -> int: ...
    @property
    def path(self) -> str | None: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...

def resolve(
    root: str | PathLike[str],
    rel_path: str,
    method: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    range_header: str | None,
    accept_encoding: str | None,
    follow_symlinks: bool = False,
    *,
    if_match: str | None = None,
    if_unmodified_since: str | None = None,
    if_range: str | None = None,
) -> StaticResult: ...

@final
class StaticResolver:
    """A resolver bound to one root, made real once (FileNotFoundError / NotADirectoryError otherwise)."""

    def __new__(cls, root: str | PathLike[str], follow_symlinks: bool = False) -> StaticResolver: ...
    @property
    def root(self) -> str: ...
    @property
    def follow_symlinks(self) -> bool: ...
    def resolve(
        self,
        rel_path: str,
        method: str,
        if_none_match: str | None,
        if_modified_since: str | None,
        range_header: str | None,
        accept_encoding: str | None,
        *,
        if_match: str | None = None,
        if_unmodified_since: str | None = None,
        if_range: str | None = None,
    ) -> StaticResult: ...

def content_type(name: str) -> str: ...
def is_fingerprinted(name: str) -> bool: ...

__all__ = [
    "Router",
    "StaticResult",
    "StaticResolver",
    "resolve",
    "content_type",
    "is_fingerprinted",
    "RouteConflict",
    "UnsupportedConvertor",
    "FOUND",
    "BAD_PARAM",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "MIME_TYPES",
    "CONVERTOR_REGEXES",
    "__version__",
]
