"""Route patterns (Flask syntax, parsed into segments) and the path-parameter convertors: what each convertor
accepts, the value it gives, and how ``url_for`` writes it back. The Python twin of ``gobstopper_rs``'s ``pattern.rs``.

Every built-in convertor's accepted values are defined here, are finite, and round-trip: for every value ``v`` a
route gives a handler, ``url_for`` writes a path that gives back exactly ``v`` (and ``url_for`` refuses a value it
could not write that way, with a ``ValueError``). A segment that does not have the convertor's *shape* (its
regex) does not match the route (404 unless another route matches); one that has the shape but no acceptable
value is a bad parameter (400). The Rust router (``gobstopper_rs``) implements the same rules; its regexes are
checked against these at import (``gobstopper/_native/__init__.py``) and its answers by ``tests/test_native_router.py``.

=========  =========================================  ====================================================
name       shape (regex, ASCII only)                   value / bad parameter (400)
=========  =========================================  ====================================================
``str``    one segment: ``[^/]+``                      the text as is
``path``   the rest of the path, slashes and any       the text as is (possibly empty)
           character included: ``(?s:.*)``
``int``    ``[0-9]+``                                  ``int``, >= 0; more than 4,300 digits (CPython's
                                                       default conversion limit, fixed here) is a 400
``float``  ``[0-9]+(\\.[0-9]+)?``                       ``float``, >= 0; a value too large to be finite
                                                       (``1`` followed by 400 zeros) is a 400, never ``inf``
``uuid``   32 hex digits, ``8-4-4-4-12`` hyphens        ``uuid.UUID``
           each optional
``date``   ``YYYY-MM-DD``                              ``datetime.date``; not a real date (``2024-02-30``,
                                                       year 0) is a 400
=========  =========================================  ====================================================

``url_for`` writes ``int`` in decimal, ``float`` as the shortest decimal that reads back as the same float (never
an exponent: ``1e-22`` is ``0.0000000000000000000001``), ``uuid`` in its canonical form, ``date`` as ISO; it
percent-encodes ``str`` and ``path`` values (``/`` is kept in ``path``). It refuses: negative or non-integral
numbers, ``nan`` and infinities, booleans, a ``datetime`` for a ``date`` (it would come back as a ``date``), a
``str`` that is empty or holds ``/``, and ``str``/``path`` values with a ``.`` or ``..`` segment (URL clients
remove dot segments before sending, so no URL can carry them).

Every regex here is ASCII-only on purpose (``[0-9]`` not ``\\d``): Python's ``\\d`` also matches other Unicode
digits, which would let ``/items/١٢`` reach an ``int`` route, and the Rust router must agree with this module.
"""

from __future__ import annotations

import datetime
import decimal
import math
import operator
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

#: ``int`` values have at most this many digits (CPython's default ``sys.get_int_max_str_digits()``, fixed here
#: so the rule does not depend on interpreter settings).
MAX_INT_DIGITS = 4300
INT_TOO_LONG = f"more than {MAX_INT_DIGITS} digits"
FLOAT_NOT_FINITE = "too large to be a finite float"
_DOT_SEGMENTS = frozenset({".", ".."})


def _no_dot_segments(text: str, segments: list[str]) -> str:
    if any(segment in _DOT_SEGMENTS for segment in segments):
        raise ValueError(f"{text!r} has a '.' or '..' segment, which URL clients remove before sending")
    return text


class StringConvertor(Convertor[str]):
    """One non-empty path segment (no ``/``)."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: Any) -> str:
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"{text!r} is not one path segment (empty, or holds '/')")
        return _no_dot_segments(text, [text])


class PathConvertor(Convertor[str]):
    """The rest of the path: any characters, slashes included, possibly empty."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: Any) -> str:
        text = str(value)
        return _no_dot_segments(text, text.split("/"))


class IntegerConvertor(Convertor[int]):
    """A non-negative decimal integer of at most :data:`MAX_INT_DIGITS` digits (leading zeros allowed)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        if len(value) > MAX_INT_DIGITS:
            raise ValueError(INT_TOO_LONG)
        return int(value)

    def to_string(self, value: Any) -> str:
        if isinstance(value, str):
            if not value.isascii() or not value.isdigit():
                raise ValueError(f"{value!r} is not a non-negative decimal integer")
            number = self.convert(value)
        elif isinstance(value, bool):
            raise ValueError(f"{value!r} is a bool, not an integer")
        else:
            number = operator.index(value)  # TypeError for floats: 1.5 is never silently 1
        if number < 0:
            raise ValueError(f"{number} is negative")
        text = str(number)
        if len(text) > MAX_INT_DIGITS:
            raise ValueError(INT_TOO_LONG)
        return text


class FloatConvertor(Convertor[float]):
    """A non-negative decimal number (``12``, ``0.5``) whose float value is finite."""

    regex = r"[0-9]+(\.[0-9]+)?"

    def convert(self, value: str) -> float:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(FLOAT_NOT_FINITE)
        return number

    def to_string(self, value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is a bool, not a number")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"{value!r} is not a finite, non-negative number")
        if number == 0:
            return "0"  # -0.0 too: the URL has no sign
        # repr() is the shortest decimal that reads back as this float; write it without an exponent.
        text = format(decimal.Decimal(repr(number)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text


class UUIDConvertor(Convertor[uuid.UUID]):
    """A UUID as 32 hex digits, with or without the hyphens (``uuid.UUID``; written in canonical form)."""

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_string(self, value: Any) -> str:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


class DateConvertor(Convertor[datetime.date]):
    """ISO dates (``2024-05-01``). A value that has the shape but is not a real date is a bad value (400)."""

    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def convert(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)

    def to_string(self, value: datetime.date | str) -> str:
        if isinstance(value, datetime.datetime):
            raise ValueError(f"{value!r} is a datetime; pass its .date() (a date parameter gives back a date)")
        if isinstance(value, datetime.date):
            if value.year < 1:  # pragma: no cover - datetime.date cannot hold year 0
                raise ValueError(f"{value!r} has no ISO form")
            return value.isoformat()
        return self.convert(value).isoformat()


if "date" not in CONVERTOR_TYPES:
    register_url_convertor("date", DateConvertor())

#: The built-in convertors (also the ones the Rust router implements natively).
BUILTIN_TYPES: dict[str, Convertor[Any]] = {
    "str": StringConvertor(),
    "path": PathConvertor(),
    "int": IntegerConvertor(),
    "float": FloatConvertor(),
    "uuid": UUIDConvertor(),
    "date": DateConvertor(),
}

#: The convertors the Rust router implements natively; a route using any other one runs on the Python router.
BUILTIN_CONVERTORS = frozenset(BUILTIN_TYPES)

#: Typed convertors are more specific than ``str`` (docs/design.md §4).
UNTYPED_CONVERTORS = frozenset({"str"})

_STOCK_MODULES = frozenset({"starlette.convertors", __name__})

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def cast_int(text: str) -> int:
    """An ``int``-annotated ``str`` parameter: ASCII digits with an optional sign (no spaces, ``_`` or other
    scripts' digits, which ``int()`` would take), at most :data:`MAX_INT_DIGITS` digits."""
    if _INT_TEXT.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a decimal integer")
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise ValueError(INT_TOO_LONG)
    return int(text)


def cast_float(text: str) -> float:
    """A ``float``-annotated ``str`` parameter: an ASCII decimal number, exponent allowed, whose value is finite
    (``nan``, ``inf`` and ``1e400``, which ``float()`` would take, are refused)."""
    if _FLOAT_TEXT.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a decimal number")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(FLOAT_NOT_FINITE)
    return number


#: How a ``str`` path parameter is converted when the handler annotates it (``def h(request, n: int)``); a
#: failure is a 400. The same finiteness and shape rules as the convertors.
ANNOTATION_CASTS: dict[Any, Any] = {
    int: cast_int,
    float: cast_float,
    uuid.UUID: uuid.UUID,
    datetime.date: datetime.date.fromisoformat,
    datetime.datetime: datetime.datetime.fromisoformat,
    bool: lambda v: {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[v.lower()],
}


def get_convertor(name: str) -> Convertor[Any]:
    """The convertor called ``name``: ours for the built-in names, else one registered in Starlette's registry
    (``starlette.convertors.register_url_convertor``), which may also replace a built-in one.

    Raises:
        ValueError: no convertor has that name (the message names the known ones).
    """
    registered = CONVERTOR_TYPES.get(name)
    builtin = BUILTIN_TYPES.get(name)
    if builtin is not None and (registered is None or type(registered).__module__ in _STOCK_MODULES):
        return builtin
    if registered is not None:
        return registered
    known = ", ".join(sorted(set(CONVERTOR_TYPES) | set(BUILTIN_TYPES)))
    raise ValueError(f"unknown path convertor {name!r} (known: {known})")


# -- patterns: Flask-syntax route patterns, parsed once (src/gobstopper_rs/src/pattern.rs is the Rust twin) --------

_PLACEHOLDER = re.compile(r"<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class ParsedSegment:
    """One ``/``-separated piece of a pattern: literal texts around placeholders."""

    literals: tuple[str, ...]  # len(literals) == len(convertor_names) + 1
    convertor_names: tuple[str, ...]
    param_names: tuple[str, ...]

    @property
    def is_static(self) -> bool:
        return not self.convertor_names

    @property
    def key(self) -> str:
        """The segment with parameter names erased: two routes with equal keys match the same paths."""
        parts = [self.literals[0]]
        for conv, literal in zip(self.convertor_names, self.literals[1:]):
            parts.append(f"<{conv}>")
            parts.append(literal)
        return "".join(parts)

    @property
    def rank(self) -> int:
        has_literal = any(self.literals)
        typed = not any(c in UNTYPED_CONVERTORS for c in self.convertor_names)
        return (0 if has_literal else 2) + (1 if typed else 2)

    def regex_source(self, first_group: int) -> str:
        parts = [re.escape(self.literals[0])]
        for i, (conv, literal) in enumerate(zip(self.convertor_names, self.literals[1:])):
            parts.append(f"(?P<p{first_group + i}>{get_convertor(conv).regex})")
            parts.append(re.escape(literal))
        return "".join(parts)


def parse_pattern(pattern: str) -> list[ParsedSegment]:
    """Split a Flask-style pattern into segments, validating it.

    Raises:
        ValueError: the pattern does not start with ``/``, has an unknown convertor, a malformed or repeated
            placeholder, two placeholders with no literal text between them, or text after a ``path``
            placeholder's segment that is not a proper segment.
    """
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern {pattern!r} must start with '/'")
    seen: set[str] = set()
    segments = []
    for raw in pattern[1:].split("/"):
        literals: list[str] = []
        convs: list[str] = []
        names: list[str] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(raw):
            literals.append(raw[pos : m.start()])
            conv = m.group(1) or "str"
            get_convertor(conv)
            name = m.group(2)
            if name in seen:
                raise ValueError(f"route pattern {pattern!r} uses the parameter name {name!r} twice")
            seen.add(name)
            convs.append(conv)
            names.append(name)
            pos = m.end()
        literals.append(raw[pos:])
        if any("<" in lit or ">" in lit for lit in literals):
            raise ValueError(f"route pattern {pattern!r} has a malformed placeholder in {raw!r}")
        # Two parameters with nothing between them: where one ends would be a guess, and Python's backtracking
        # re takes time growing as a power of the path's length to match them (the Rust twin refuses them too).
        adjacent = next((i for i in range(1, len(convs)) if not literals[i]), None)
        if adjacent is not None:
            raise ValueError(
                f"route pattern {pattern!r} has the parameters {names[adjacent - 1]!r} and {names[adjacent]!r} "
                "with nothing between them: put literal text between two parameters"
            )
        segments.append(ParsedSegment(tuple(literals), tuple(convs), tuple(names)))
    return segments


#: Characters ``url_for`` leaves unencoded in a parameter value (RFC 3986 pchar; ``/`` only for ``path``).
URL_SAFE = "/:@!$&'()*+,;=-._~"


def build_path(segments: Sequence[ParsedSegment], params: dict[str, Any], name: str) -> str:
    """The path of a parsed pattern with its parameters written by their convertors (``url_for``).

    The parameters the pattern uses are taken out of ``params`` (what is left is the caller's query string).
    Values are percent-encoded (UTF-8); literal text is kept as written.

    Raises:
        ValueError: a parameter is missing, or its convertor refuses the value (see ``_convertors.py``: a value
            ``url_for`` writes always gives back the same value when requested).
    """
    missing = [p for seg in segments for p in seg.param_names if p not in params]
    if missing:
        raise ValueError(f"url_for({name!r}) is missing parameter(s): {', '.join(missing)}")
    parts = []
    for seg in segments:
        text = seg.literals[0]
        for conv_name, param, literal in zip(seg.convertor_names, seg.param_names, seg.literals[1:]):
            value = params.pop(param)
            try:
                written = get_convertor(conv_name).to_string(value)
                text += quote(written, safe=URL_SAFE if conv_name == "path" else URL_SAFE.replace("/", ""))
            except (AssertionError, ValueError, TypeError, OverflowError) as exc:  # UnicodeEncodeError included
                raise ValueError(f"url_for({name!r}): bad value {value!r} for {param!r}: {exc}") from exc
            text += literal
        parts.append(text)
    return "/" + "/".join(parts)
