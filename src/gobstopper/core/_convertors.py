"""Path-parameter convertors: Starlette's, plus ``date``, registered the Starlette way.

Every regex here is ASCII-only on purpose (``[0-9]`` not ``\\d``): Python's ``\\d`` also matches other Unicode
digits, which would let ``/items/١٢`` reach an ``int`` route, and the Rust router must agree with this module.
"""

from __future__ import annotations

import datetime

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor


class DateConvertor(Convertor[datetime.date]):
    """ISO dates (``2024-05-01``). A value that has the shape but is not a real date is a bad value (400)."""

    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def convert(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)

    def to_string(self, value: datetime.date | str) -> str:
        if isinstance(value, datetime.date):
            return value.isoformat()
        return self.convert(value).isoformat()


if "date" not in CONVERTOR_TYPES:
    register_url_convertor("date", DateConvertor())

#: The convertors the Rust router implements natively; a route using any other one runs on the Python router.
BUILTIN_CONVERTORS = frozenset({"str", "int", "float", "uuid", "path", "date"})

#: Typed convertors are more specific than ``str`` (docs/design.md §4).
UNTYPED_CONVERTORS = frozenset({"str"})


def get_convertor(name: str) -> Convertor:
    """The registered convertor called ``name``, or a ``ValueError`` naming the known ones."""
    try:
        return CONVERTOR_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(CONVERTOR_TYPES))
        raise ValueError(f"unknown path convertor {name!r} (known: {known})") from None
