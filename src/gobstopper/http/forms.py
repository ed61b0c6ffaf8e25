"""Form bodies (urlencoded and multipart) on Starlette's streaming parsers, with caps, and model conversion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from .errors import BadRequest, BodyValidationError, UnsupportedMediaType

if TYPE_CHECKING:
    from .request import Request

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FORM_TYPES = frozenset({URLENCODED, MULTIPART})

#: Caps (HARDENING.md rows 19–26): fields and files per body, bytes per non-file part.
MAX_FORM_FIELDS = 1000
MAX_FORM_FILES = 1000
MAX_PART_BYTES = 1024 * 1024


async def _ending_with_empty_chunk(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``stream``, then one empty chunk: the end-of-body mark Starlette's parsers were written for.

    Starlette's own ``Request.stream()`` always ends with ``b""``, and ``FormParser`` up to Starlette 1.9 finalizes
    the urlencoded parser only when it sees that empty chunk: without it the last field (``a=1&b=2`` -> ``b``) is
    never emitted and silently lost. Our stream skips empty chunks, so the mark is added here (harmless to 1.10+,
    which finalizes after the loop whatever the chunks).
    """
    async for chunk in stream:
        yield chunk
    yield b""


async def parse_form(request: Request) -> FormData:
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
            parser: Any = FormParser(headers, body, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_PART_BYTES)
        else:
            parser = MultiPartParser(
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
    """Build ``model`` from form or query fields: single values as scalars, repeated ones as lists.

    Raises:
        BodyValidationError: the fields do not fit the model (422, naming the field).
    """
    data = {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        loc = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        raise BodyValidationError(message, [{"loc": loc, "msg": message.partition(" - at `")[0]}]) from None
