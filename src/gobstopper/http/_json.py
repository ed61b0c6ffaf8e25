"""Decoding JSON bodies with msgspec: every way it can fail is a 4xx, and nesting is bounded by the framework."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .errors import BadRequest, BodyValidationError

_json_decoder = msgspec.json.Decoder()
# For the nesting-depth check: skip string contents, then count brackets.
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")
_typed_decoders: dict[Any, msgspec.json.Decoder] = {}


def _decoder_for(model: Any) -> msgspec.json.Decoder:
    decoder = _typed_decoders.get(model)
    if decoder is None:
        decoder = _typed_decoders[model] = msgspec.json.Decoder(model)
    return decoder


def json_too_deep(data: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects more than ``limit`` deep (linear; stops at the limit)."""
    depth = 0
    for match in _JSON_BRACKETS.finditer(_JSON_STRINGS.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def decode_json(data: bytes, model: Any = None) -> Any:
    """Decode a JSON body; every way it can fail becomes a 400 or, for a model mismatch, a 422.

    msgspec raises more than ``DecodeError``: deep nesting gives ``RecursionError`` and invalid UTF-8 inside a
    string gives ``UnicodeDecodeError`` (docs/hardening.md §0.4); both are the client's fault, so both are 400.
    """
    try:
        return (_json_decoder if model is None else _decoder_for(model)).decode(data)
    except msgspec.ValidationError as exc:
        if model is None:  # the untyped decoder's own limits (e.g. a 5,000-digit integer): malformed, not a mismatch
            raise BadRequest(f"Invalid JSON body: {exc}") from None
        message = str(exc)
        path = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        raise BodyValidationError(message, [{"loc": path, "msg": message.partition(" - at `")[0]}]) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Invalid JSON body: {exc}") from None
