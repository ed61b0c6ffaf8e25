"""Response headers: a case-insensitive multi-map that refuses values which could inject headers.

Names are stored lower-case (HTTP/2 and Granian lower-case them on the wire anyway), as an ordered list of
``(name, value)`` pairs, which is exactly what RSGI's ``response_*`` methods take, so the RSGI adapter hands the
list over without copying. Repeated names (``set-cookie``) stay separate entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")

HeadersInit = Mapping[str, str] | Iterable[tuple[str, str]] | None


def check_header(name: str, value: object) -> tuple[str, str]:
    """Validate one header and return it as ``(lower-case name, str value)``.

    Raises:
        ValueError: the name is not an HTTP token, or the value contains CR, LF or NUL (header injection).
    """
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid header name {name!r}")
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise ValueError(f"header {name!r} must have a str value, not {type(value).__name__}")
    if _FORBIDDEN_IN_VALUE.search(value):
        raise ValueError(f"header {name!r} has a value containing CR, LF or NUL")
    return name.lower(), value


class ResponseHeaders(MutableMapping[str, str]):
    """Mutable, case-insensitive response headers that keep repeated names (``add``) apart.

    ``headers["X-A"] = "1"`` replaces every ``x-a``; ``headers.add("Set-Cookie", ...)`` appends one more.
    """

    __slots__ = ("_list",)

    def __init__(self, init: HeadersInit = None) -> None:
        self._list: list[tuple[str, str]] = []
        if init:
            self.update(init)

    @classmethod
    def view(cls, items: list[tuple[str, str]]) -> ResponseHeaders:
        """Headers over an existing (already valid) list, shared: every change is made in place in it."""
        self = cls.__new__(cls)
        self._list = items
        return self

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for n, v in self._list:
            if n == key:
                return v
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        key, value = check_header(name, value)
        items = self._list
        for i, (n, _) in enumerate(items):
            if n == key:
                items[i] = (key, value)
                # Drop later duplicates: assignment means "this is now the only value".
                items[i + 1 :] = [p for p in items[i + 1 :] if p[0] != key]
                return
        items.append((key, value))

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        kept = [p for p in self._list if p[0] != key]
        if len(kept) == len(self._list):
            raise KeyError(name)
        self._list[:] = kept

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n == key for n, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        seen = []
        for n, _ in self._list:
            if n not in seen:
                seen.append(n)
        return iter(seen)

    def __len__(self) -> int:
        return len({n for n, _ in self._list})

    def __repr__(self) -> str:
        return f"ResponseHeaders({self._list!r})"

    def update(self, other: HeadersInit = None, /, **kwargs: str) -> None:  # type: ignore[override]
        """Set every header of ``other`` (a mapping or pairs) like ``__setitem__`` does."""
        if other is not None:
            items = other.items() if isinstance(other, Mapping) else other
            for name, value in items:
                self[name] = value
        for name, value in kwargs.items():
            self[name] = value

    def add(self, name: str, value: str) -> None:
        """Append a header, keeping existing ones of the same name (for ``Set-Cookie``, ``Vary``...)."""
        self._list.append(check_header(name, value))

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [v for n, v in self._list if n == key]

    def raw(self) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs as they go on the wire (names lower-case)."""
        return self._list


def add_vary(headers: ResponseHeaders, *names: str) -> None:
    """Add ``names`` to the ``Vary`` header, keeping what is there and never repeating a name."""
    current = headers.get("vary")
    if current is None:
        headers["vary"] = ", ".join(names)
        return
    present = {v.strip().lower() for v in current.split(",")}
    if "*" in present:
        return
    missing = [n for n in names if n.lower() not in present]
    if missing:
        headers["vary"] = ", ".join([current, *missing])
