"""Decoding JSON bodies with msgspec: every way it can fail is a 4xx, and nesting is bounded by the framework."""

from __future__ import annotations

from typing import Any

import msgspec

from .._json_depth import json_too_deep
from ..settings import DEFAULT_MAX_JSON_DEPTH
from .errors import BadRequest, BodyValidationError

_json_decoder = msgspec.json.Decoder()
_typed_decoders: dict[Any, msgspec.json.Decoder] = {}


def _decoder_for(model: Any) -> msgspec.json.Decoder:
    decoder = _typed_decoders.get(model)
    if decoder is None:
        decoder = _typed_decoders[model] = msgspec.json.Decoder(model)
    return decoder


def decode_json(data: bytes, model: Any = None, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """Decode a JSON body; every way it can fail becomes a 400 or, for a model mismatch, a 422.

    Text nested deeper than ``max_depth`` levels never reaches msgspec (:func:`json_too_deep`): msgspec recurses
    once per level, and where that stops depends on the interpreter. msgspec raises more than ``DecodeError``:
    invalid UTF-8 inside a string gives ``UnicodeDecodeError`` (docs/hardening.md §0.4), the client's fault, so a
    400 (``RecursionError`` too, should a caller pass a huge ``max_depth``).

    Raises:
        BadRequest: malformed, or nested deeper than ``max_depth`` (400).
        BodyValidationError: the JSON does not fit ``model`` (422, naming the field path).
    """
    if json_too_deep(data, max_depth):
        raise BadRequest(f"The JSON body nests deeper than {max_depth} levels.")
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
