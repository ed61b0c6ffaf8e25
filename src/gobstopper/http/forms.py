"""Form bodies (urlencoded and multipart) on Starlette's streaming parsers, with caps, and model conversion."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from typing import Any, Protocol

import msgspec
import msgspec.inspect
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from ._text import decode_form_component, decode_wire
from .errors import BadRequest, BodyValidationError, UnsupportedMediaType
from .file_storage import UploadSpool


class FormSource(Protocol):
    """What parsing a form needs from a request (``gobstopper.http.request.Request`` has it)."""

    @property
    def mimetype(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def stream(self) -> AsyncGenerator[bytes, None]: ...


URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORM_TYPES = frozenset({URLENCODED, MULTIPART})

#: Caps (docs/hardening.md rows 19–26): fields and files per body, bytes per non-file part.
MAX_FORM_FIELDS = 1000
MAX_FORM_FILES = 1000
MAX_PART_BYTES = 1024 * 1024


class _FormParser(FormParser):
    """Starlette's streaming urlencoded parser, decoding names and values by the wire policy (``http/_text.py``).

    Starlette decodes the raw bytes as Latin-1 before percent-decoding, so a raw ``é`` (``C3 A9``) came back as
    ``Ã©`` and an invalid byte as a Latin-1 letter; here the bytes are percent-decoded first, then read as UTF-8
    with U+FFFD, exactly like the query string.
    """

    def on_field_end(self) -> None:
        self._current_fields += 1
        if self._current_fields > self.max_fields:
            raise MultiPartException(f"Too many fields. Maximum number of fields is {self.max_fields}.")
        self._items.append((decode_form_component(self._field_name), decode_form_component(self._field_value)))


class _MultiPartParser(MultiPartParser):
    """Starlette's streaming multipart parser with two changes.

    - Text (field values, field names, file names) is decoded by the wire policy: UTF-8 with U+FFFD. Starlette
      fell back to Latin-1 for anything that was not valid UTF-8 (or in a declared charset).
    - Files spool into :class:`~gobstopper.http.file_storage.UploadSpool`, whose on-disk file has a name, so
      ``FileStorage.save`` can move a large upload into place instead of copying it.
    """

    def on_headers_finished(self) -> None:
        part = self._current_part
        _, options = parse_options_header(part.content_disposition)
        try:
            part.field_name = decode_wire(options[b"name"])
        except KeyError:
            raise MultiPartException('The Content-Disposition header field "name" must be provided.') from None
        if b"filename" in options:
            self._current_files += 1
            if self._current_files > self.max_files:
                raise MultiPartException(f"Too many files. Maximum number of files is {self.max_files}.")
            spool = UploadSpool(max_size=self.spool_max_size)
            self._files_to_close_on_error.append(spool)
            part.file = UploadFile(
                file=spool,  # type: ignore[arg-type]
                size=0,
                filename=decode_wire(options[b"filename"]),
                headers=Headers(raw=part.item_headers),
            )
        else:
            self._current_fields += 1
            if self._current_fields > self.max_fields:
                raise MultiPartException(f"Too many fields. Maximum number of fields is {self.max_fields}.")
            part.file = None

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            self.items.append((part.field_name, decode_wire(part.data)))
        else:
            super().on_part_end()


async def _ending_with_empty_chunk(stream: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """``stream``, then one empty chunk: the end-of-body mark Starlette's parsers were written for.

    Starlette's own ``Request.stream()`` always ends with ``b""``, and ``FormParser`` before Starlette 1.10
    finalized the urlencoded parser only on that empty chunk: without it the last field (``a=1&b=2`` -> ``b``) was
    never emitted, silently lost. Our stream skips empty chunks, so the mark is added here; the parsers of 1.10 on
    finalize after the loop whatever the chunks, and an empty chunk is nothing to them.
    """
    async for chunk in stream:
        yield chunk
    yield b""


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
    body = _ending_with_empty_chunk(request.stream())
    try:
        if mimetype == URLENCODED:
            parser: Any = _FormParser(headers, body, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_PART_BYTES)
        else:
            parser = _MultiPartParser(
                headers,
                body,
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
        result = msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        loc = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        raise BodyValidationError(message, [{"loc": loc, "msg": message.partition(" - at `")[0]}]) from None
    # msgspec reads the text "nan", "inf" and "-infinity" as floats; a JSON body can never hold them (RFC 8259),
    # and neither may fields from the wire: every float is finite (as for the path convertors).
    where = _non_finite(msgspec.to_builtins(result), "$")
    if where is not None:
        message = f"Expected a finite number - at `{where}`"
        raise BodyValidationError(message, [{"loc": where, "msg": "Expected a finite number"}])
    return result


def _non_finite(value: Any, loc: str) -> str | None:
    """Where the first non-finite float in ``value`` (built-in types) is, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else loc
    if isinstance(value, dict):
        items: Any = ((f"{loc}.{k}", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{loc}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, item in items:
        found = _non_finite(item, where)
        if found is not None:
            return found
    return None


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
