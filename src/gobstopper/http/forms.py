"""Form bodies (urlencoded and multipart) on Starlette's streaming parsers, with caps, and model conversion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec
import msgspec.inspect
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from .errors import BadRequest, BodyValidationError, UnsupportedMediaType


class FormSource(Protocol):
    """What parsing a form needs from a request (``gobstopper.http.request.Request`` has it)."""

    @property
    def mimetype(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def stream(self) -> AsyncIterator[bytes]: ...

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORM_TYPES = frozenset({URLENCODED, MULTIPART})

#: Caps (docs/hardening.md rows 19–26): fields and files per body, bytes per non-file part.
MAX_FORM_FIELDS = 1000
MAX_FORM_FILES = 1000
MAX_PART_BYTES = 1024 * 1024


async def parse_form(request: FormSource) -> FormData:
    """Parse the body as a form while it streams (counted against the body limit).

    Raises:
        UnsupportedMediaType: the body is not a form (415).
        BadRequest: malformed, or past a cap (too many fields or files, a field over 1 MiB): 400.
        RequestTooLarge: the body passed ``max_body_bytes`` (413).
    """
    mimetype = request.mimetype
    if mimetype not in FORM_TYPES:
        raise UnsupportedMediaType(f"Expected a form body ({URLENCODED} or {MULTIPART}).")
    headers = request.headers
    try:
        if mimetype == URLENCODED:
            parser: Any = FormParser(
                headers, request.stream(), max_fields=MAX_FORM_FIELDS, max_part_size=MAX_PART_BYTES
            )
        else:
            parser = MultiPartParser(
                headers,
                request.stream(),
                max_files=MAX_FORM_FILES,
                max_fields=MAX_FORM_FIELDS,
                max_part_size=MAX_PART_BYTES,
            )
        return await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"Invalid form body: {exc.message}") from None
    except (KeyError, ValueError, UnicodeDecodeError) as exc:  # e.g. a multipart body without a boundary
        raise BadRequest(f"Invalid form body: {exc}") from None


def fields_of(form: FormData) -> dict[str, list[str]]:
    """The text fields as ``{name: [values]}`` (files left out)."""
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            fields.setdefault(name, []).append(value)
    return fields


def convert_fields(fields: dict[str, list[str]], model: Any) -> Any:
    """Build ``model`` from form or query fields: single values as scalars, repeated ones as lists, and every
    value of a field the model declares as a sequence as a list (``?tag=a`` fills ``tag: list[str]``).

    Raises:
        BodyValidationError: the fields do not fit the model (422, naming the field).
    """
    many = _sequence_fields(model)
    data = {name: values[0] if len(values) == 1 and name not in many else values for name, values in fields.items()}
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        loc = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        raise BodyValidationError(message, [{"loc": loc, "msg": message.partition(" - at `")[0]}]) from None


_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)
_sequence_fields_cache: dict[Any, frozenset[str]] = {}


def _sequence_fields(model: Any) -> frozenset[str]:
    """The (encoded) names of a Struct's fields typed as a list, set or variable tuple, optional or not."""
    cached = _sequence_fields_cache.get(model)
    if cached is not None:
        return cached
    names: set[str] = set()
    try:
        info = msgspec.inspect.type_info(model)
    except Exception:  # not a type msgspec knows: conversion will say what is wrong
        info = None
    for field in getattr(info, "fields", ()):
        kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        if any(isinstance(kind, _SEQUENCES) for kind in kinds):
            names.add(field.encode_name)
    result = _sequence_fields_cache[model] = frozenset(names)
    return result
