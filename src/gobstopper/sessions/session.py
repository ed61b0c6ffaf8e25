"""The session object handlers see as ``request.session``: a dict that knows whether it was read or changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_MISSING: Any = object()


class Session(dict):  # type: ignore[type-arg]
    """A ``dict`` that records whether it was read (``accessed``) or changed (``modified``).

    The middleware writes a record only when ``modified`` is set, and marks responses of requests that read the
    session ``Vary: Cookie`` / ``Cache-Control: private``. Changing a nested value (``session["cart"].append(x)``)
    is not seen: set ``session.modified = True`` then, as in Flask.

    Attributes:
        accessed: the session was read or written during this request.
        modified: the session was changed and must be saved.
        new: no record exists for it yet.
    """

    __slots__ = ("accessed", "modified", "new")

    def __init__(self, data: dict[str, Any] | None = None, new: bool = True) -> None:
        super().__init__(data or {})
        self.accessed = False
        self.modified = False
        self.new = new

    def _read(self) -> None:
        self.accessed = True

    def _write(self) -> None:
        self.accessed = True
        self.modified = True

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return super().__contains__(key)

    def __len__(self) -> int:
        self.accessed = True
        return super().__len__()

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return super().__iter__()

    def __bool__(self) -> bool:
        self.accessed = True
        return super().__len__() > 0

    def keys(self) -> Any:
        self.accessed = True
        return super().keys()

    def values(self) -> Any:
        self.accessed = True
        return super().values()

    def items(self) -> Any:
        self.accessed = True
        return super().items()

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        self.accessed = True
        return dict(super().items())

    def __setitem__(self, key: str, value: Any) -> None:
        self._write()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._write()
        super().__delitem__(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        self.accessed = True
        if super().__contains__(key):
            self.modified = True
            return super().pop(key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        self._write()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        if not super().__contains__(key):
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._write()
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._write()
        super().clear()

    def __ior__(self, other: Any) -> Session:  # type: ignore[misc]  # dict's own | returns a plain dict
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"<Session {dict(super().items())!r}>"

    def raw(self) -> dict[str, Any]:
        """A plain copy of the data without marking the session read."""
        return dict(super().items())


__all__ = ["Session"]
