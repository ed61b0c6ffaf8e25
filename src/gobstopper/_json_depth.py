"""How deep JSON text nests, found without parsing it (HTTP bodies and WebSocket messages are bounded alike).

A module of its own, with no imports from the framework: the HTTP body decoder and the WebSocket connection both use
it, and neither may import the other's settings.
"""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count

# For the nesting-depth check. A JSON string: its quote, then runs of plain bytes or backslash escapes, then its
# closing quote, or the end of the body when there is none (then the body is malformed anyway). The closing quote
# is optional so the pattern never fails once started: no backtracking, linear in the body.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
# Brackets as steps: an opening one is 2, a closing one 0; every other byte is deleted.
_BRACKET_STEPS = bytes(2 if b in b"[{" else 0 for b in range(256))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


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
