"""The one reader of ``GOBSTOPPER_*`` (and the reference's) environment variables.

Configuration comes from the environment once, when an app (or a process-wide default) is built; never per
request. A bad value is an error that names the variable, raised at that moment rather than on some later request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting (keyword or environment variable) has a value it cannot take; the message names it."""


def parse_int(text: str) -> int:
    """A decimal integer (``_`` separators allowed, as in Python literals)."""
    return int(text.replace("_", ""))


def parse_optional_int(text: str) -> int | None:
    """An integer, or ``none`` / ``off`` for no limit."""
    return None if text.lower() in ("none", "off") else parse_int(text)


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case)."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list; blanks are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def read_env(
    name: str,
    parse: Callable[[str], T],
    default: T,
    environ: Mapping[str, str] | None = None,
) -> T:
    """The value of environment variable ``name`` parsed with ``parse``, or ``default`` when unset or blank.

    Raises:
        SettingsError: the value does not parse (the message names the variable and the value).
    """
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"environment variable {name}={raw!r}: {exc}") from None


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``name`` is set to a true value (unset, blank and false values are False)."""
    return read_env(name, parse_bool, False, environ)


def parse_float(text: str) -> float:
    """A decimal number (seconds, ratios)."""
    return float(text.replace("_", ""))


def parse_optional_float(text: str) -> float | None:
    """A decimal number, or ``none`` / ``off`` for no limit."""
    return None if text.lower() in ("none", "off") else parse_float(text)
