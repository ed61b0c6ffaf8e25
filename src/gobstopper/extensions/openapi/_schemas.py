"""JSON Schemas: path convertors, msgspec types (through ``msgspec.json.schema_components``) and problem details.

Types are collected while operations are built and described in one call to msgspec at the end, so every Struct
is described once, under one name, in ``components/schemas`` (msgspec picks the names and disambiguates two
Structs of the same name).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import logging
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

logger = logging.getLogger("gobstopper.openapi")

REF_PREFIX = "#/components/schemas/"

#: Path convertors (``gobstopper._native.pattern``, Starlette's) as schemas. The regexes are those the router
#: matches: ``int`` and ``float`` take no sign, ``str`` is one non-empty segment.
CONVERTOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string", "pattern": "^[^/]+$"},
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "path": {"type": "string", "description": "A path: may contain slashes."},
    "date": {"type": "string", "format": "date"},
}

#: Annotations of ``str`` path parameters the framework converts (``core.routes._CASTS``), as schemas.
CAST_SCHEMAS: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    bool: {"type": "boolean"},
}

#: RFC 9457 problem details, as ``gobstopper.http.problem`` writes them.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "Problem details for HTTP APIs (RFC 9457), sent as application/problem+json.",
    "properties": {
        "type": {"type": "string", "description": "A URI reference for the problem type.", "default": "about:blank"},
        "title": {"type": "string", "description": "The status's reason phrase."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "instance": {"type": "string", "description": "A URI reference for this occurrence."},
    },
    "required": ["type", "title", "status"],
}

#: The 422 of a body or query that does not fit its model: a problem with the list of what failed, and where.
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A problem (RFC 9457) listing the fields that did not fit the model.",
    "allOf": [
        {"$ref": REF_PREFIX + "{problem}"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "string", "description": "Where: a JSON path such as `$.items[0].qty`."},
                            "msg": {"type": "string", "description": "What did not fit."},
                        },
                        "required": ["loc", "msg"],
                    },
                }
            },
        },
    ],
}

_SCALARS = (
    str,
    int,
    float,
    bool,
    uuid.UUID,
    datetime.date,
    datetime.datetime,
    datetime.time,
    decimal.Decimal,
)


def describable(tp: Any) -> bool:
    """Whether msgspec can describe ``tp`` as JSON Schema (Structs, containers, scalars, unions of those...);
    a type it cannot describe is logged once per document, with msgspec's reason."""
    try:
        msgspec.json.schema_components([tp])
    except Exception as exc:
        logger.warning("openapi: msgspec cannot describe %r (%s): documented as any value", tp, exc)
        return False
    return True


def is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def is_flat_struct(tp: Any) -> bool:
    """Whether every field of a Struct is a scalar (or an optional scalar): such a model can come from a form."""
    if not is_struct(tp):
        return False
    hints = typing.get_type_hints(tp)
    for name in tp.__struct_fields__:
        field = hints.get(name, Any)
        members = typing.get_args(field) if is_union(field) else (field,)
        for member in members:
            if member is type(None) or member in _SCALARS:
                continue
            if isinstance(member, type) and issubclass(member, enum.Enum):
                continue
            if typing.get_origin(member) is typing.Literal:
                continue
            return False
    return True


def is_union(tp: Any) -> bool:
    """Whether ``tp`` is ``Union[...]``, ``Optional[...]`` or ``A | B``."""
    origin = typing.get_origin(tp)
    return origin is typing.Union or origin is types.UnionType


class SchemaRegistry:
    """Hands out schema dicts for types now and fills them in when :meth:`resolve` describes them all at once."""

    def __init__(self) -> None:
        self._types: list[Any] = []
        self._index: dict[Any, int] = {}
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._callbacks: list[tuple[int, Callable[[dict[str, Any], dict[str, Any]], None]]] = []
        self.components: dict[str, Any] = {}
        self._refused: set[Any] = set()

    def _add(self, tp: Any) -> int | None:
        try:
            hash(tp)
        except TypeError:
            return None
        index = self._index.get(tp)
        if index is None:
            if tp in self._refused or not describable(tp):
                self._refused.add(tp)
                return None
            index = self._index[tp] = len(self._types)
            self._types.append(tp)
        return index

    def schema(self, tp: Any) -> dict[str, Any]:
        """A schema for ``tp`` (a ``$ref`` for a Struct), complete once :meth:`resolve` ran; ``{}`` (anything)
        for a type msgspec cannot describe."""
        placeholder: dict[str, Any] = {}
        index = self._add(tp)
        if index is not None:
            self._pending.append((index, placeholder))
        return placeholder

    def when_resolved(self, tp: Any, callback: Callable[[dict[str, Any], dict[str, Any]], None]) -> bool:
        """Call ``callback(schema, components)`` for ``tp`` after :meth:`resolve`; False when ``tp`` cannot be
        described (the callback is then never called)."""
        index = self._add(tp)
        if index is None:
            return False
        self._callbacks.append((index, callback))
        return True

    def resolve(self) -> dict[str, Any]:
        """Describe every type collected; fills the schemas handed out and returns ``components/schemas``."""
        if not self._types:
            return {}
        schemas, components = msgspec.json.schema_components(self._types, ref_template=REF_PREFIX + "{name}")
        for index, placeholder in self._pending:
            placeholder.update(schemas[index])
        self.components = dict(components)
        for index, callback in self._callbacks:
            callback(schemas[index], self.components)
        return self.components

    @staticmethod
    def target(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
        """The schema a ``$ref`` points to (the schema itself when it is not a reference)."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found = components.get(ref[len(REF_PREFIX) :])
            return found if isinstance(found, dict) else {}
        return schema
