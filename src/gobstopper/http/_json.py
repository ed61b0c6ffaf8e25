"""Decoding JSON bodies with msgspec: every way it can fail is a 4xx, and nesting is bounded by the framework."""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count
from typing import Any

import msgspec

from ..settings import DEFAULT_MAX_JSON_DEPTH
from .errors import BadRequest, BodyValidationError

_json_decoder = msgspec.json.Decoder()
# For the nesting-depth check. A JSON string: its quote, then runs of plain bytes or backslash escapes, then its
# closing quote, or the end of the body when there is none (then the body is malformed anyway). The closing quote
# is optional so the pattern never fails once started: no backtracking, linear in the body.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
# Brackets as steps: an opening one is 2, a closing one 0; every other byte is deleted.
_BRACKET_STEPS = bytes(2 if b in b"[{" else 0 for b in range(256))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_typed_decoders: dict[Any, msgspec.json.Decoder] = {}


def _decoder_for(model: Any) -> msgspec.json.Decoder:
    decoder = _typed_decoders.get(model)
    if decoder is None:
        decoder = _typed_decoders[model] = msgspec.json.Decoder(model)
    return decoder


def json_too_deep(data: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects more than ``limit`` levels deep (``[[1]]`` is 2 levels).

    Linear in ``len(data)`` and recursion-free, at C speed: a body with at most ``limit`` opening brackets (most of
    them) is answered by its length or two ``bytes.count`` calls; otherwise the strings are cut out (brackets inside
    them do not count), the brackets kept and the deepest running level computed. Unbalanced text counts its
    unclosed levels. Text that is not JSON may be over-counted, never under-counted: a decoder reading it gives up
    before nesting deeper than this count.
    """
    if len(data) <= limit or data.count(b"[") + data.count(b"{") <= limit:
        return False
    steps = _JSON_STRING.sub(b"", data).translate(_BRACKET_STEPS, _NOT_BRACKETS)
    # The level after the n-th bracket is (opening ones - closing ones) = (sum of the first n steps) - n.
    return max(map(operator.sub, accumulate(steps), count(1)), default=0) > limit


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
