"""Error Prism's rendering: exceptions to plain data (:func:`describe`), then to HTML or problem+json."""

from __future__ import annotations

import html
import linecache
import os
import re
import reprlib
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..http.problem import problem, wants_html
from ..http.response import HTML, Response

#: What a secret's value is replaced with.
REDACTED = "[redacted]"
_SECRET = re.compile(r"pass(word|wd)?|secret|token|key|cookie|authori[sz]ation|auth|session|csrf|credential|signature",
                     re.IGNORECASE)  # fmt: skip
#: Source lines shown before and after the failing one.
CONTEXT_LINES = 5
#: Longest shown value of a local variable.
MAX_VALUE = 400
#: Deepest exception chain and most frames per exception shown (the innermost frames are kept).
MAX_CHAIN = 10
MAX_FRAMES = 60
#: No script may run on the page (rule 3); inline styles only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_repr = reprlib.Repr()
_repr.maxstring = MAX_VALUE
_repr.maxother = MAX_VALUE
_repr.maxlist = _repr.maxdict = _repr.maxset = _repr.maxtuple = 20
_repr.maxlevel = 3


def is_secret_name(name: str) -> bool:
    """Whether a variable, header or cookie called ``name`` holds a secret (rule 2)."""
    return bool(_SECRET.search(name))


def _safe_repr(value: Any) -> str:
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the error page
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _shown(name: str, value: Any) -> str:
    if is_secret_name(name):
        return REDACTED
    if isinstance(value, dict):  # {"password": ...} in a local: redact its secret keys too
        value = {k: REDACTED if isinstance(k, str) and is_secret_name(k) else v for k, v in list(value.items())[:50]}
    return _safe_repr(value)


@dataclass
class FrameInfo:
    """One frame of a traceback: where, which source lines around ``line`` and which locals."""

    filename: str
    line: int
    function: str
    source: list[tuple[int, str]] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)
    library: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "line": self.line,
            "function": self.function,
            "code": next((text for number, text in self.source if number == self.line), None),
            "locals": self.locals,
            "library": self.library,
        }


@dataclass
class ExceptionInfo:
    """One exception of the chain: its type, message, frames, and how it relates to the next one."""

    type: str
    message: str
    frames: list[FrameInfo]
    relation: str | None = None  # "cause" (raise ... from) or "context" (raised while handling)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "relation": self.relation,
            "frames": [frame.to_dict() for frame in self.frames],
        }


_FRAMEWORK = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _is_library(filename: str) -> bool:
    # Framework and installed packages' frames start folded; the app's own are open.
    return filename.startswith((_FRAMEWORK, sys.prefix, sys.base_prefix)) or "site-packages" in filename


def _frame(tb_frame: Any, lineno: int) -> FrameInfo:
    code = tb_frame.f_code
    filename = code.co_filename
    linecache.checkcache(filename)
    source = []
    for number in range(max(1, lineno - CONTEXT_LINES), lineno + CONTEXT_LINES + 1):
        text = linecache.getline(filename, number, tb_frame.f_globals)
        if not text and number > lineno:
            break
        source.append((number, text.rstrip("\n")))
    local_values = {name: _shown(name, value) for name, value in list(tb_frame.f_locals.items())[:50]}
    return FrameInfo(filename, lineno, code.co_name, source, local_values, _is_library(filename))


def describe(exc: BaseException) -> list[ExceptionInfo]:
    """The exception chain of ``exc`` as data, in the order Python prints it (the root cause first, ``exc``
    last), each with its frames from the outermost call to where it was raised."""
    chain: list[ExceptionInfo] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    relation: str | None = None
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        frames = [_frame(frame, lineno) for frame, lineno in traceback.walk_tb(current.__traceback__)]
        message = "".join(traceback.format_exception_only(type(current), current)).strip()
        chain.append(ExceptionInfo(type(current).__qualname__, message, frames[-MAX_FRAMES:], relation))
        if current.__cause__ is not None:
            current, relation = current.__cause__, "cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, relation = current.__context__, "context"
        else:
            current = None
    # Root cause first, as Python prints it; each entry's relation says how it leads to the next one
    # ("cause": the next was raised from it; "context": the next was raised while handling it).
    chain.reverse()
    return chain


def _request_facts(request: Any) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    try:
        facts.append(("Method", request.method))
        facts.append(("Path", request.path))
        if request.query_string:
            facts.append(("Query", request.query_string))
        for name, value in request.headers.items():
            facts.append((f"Header {name}", REDACTED if is_secret_name(name) else value))
    except Exception:  # the error may be about the request itself (a bad header): show what could be read
        pass
    return facts


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#faf7ff;color:#1f1630}
header{background:#3b1f6b;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.35rem}
header p{margin:0;opacity:.85;font-family:ui-monospace,monospace;white-space:pre-wrap}
main{padding:1rem 2rem}section.exc{margin-bottom:2rem}h2{font-size:1.1rem;color:#3b1f6b}
.relation{color:#6b5a85;font-style:italic;margin:1.5rem 0}
details.frame{background:#fff;border:1px solid #ddd2ee;border-radius:6px;margin:.4rem 0}
details.frame.library{opacity:.75}summary{padding:.45rem .7rem;cursor:pointer;font-family:ui-monospace,monospace}
summary .fn{color:#7a2fd0;font-weight:600}pre.source{margin:0;padding:.3rem 0;background:#fcfbff;overflow-x:auto}
pre.source span{display:block;padding:0 .7rem}pre.source span.failing{background:#ffe3e3;color:#a10000;font-weight:600}
pre.source .no{color:#9a8fb0;display:inline-block;width:3.5em;user-select:none}
table{border-collapse:collapse;width:100%;font-family:ui-monospace,monospace;font-size:12.5px}
td{border-top:1px solid #eee;padding:.2rem .7rem;vertical-align:top;word-break:break-all}td.k{width:14em;color:#555}
.note{color:#6b5a85;font-size:12px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _frame_html(frame: FrameInfo, open_: bool) -> str:
    lines = "".join(
        f'<span class="{"failing" if number == frame.line else "ctx"}">'
        f'<span class="no">{number}</span>{_e(text)}</span>'
        for number, text in frame.source
    )
    rows = "".join(f'<tr><td class="k">{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in frame.locals.items())
    return (
        f'<details class="frame{" library" if frame.library else ""}"{" open" if open_ else ""}>'
        f'<summary><span class="file">{_e(frame.filename)}</span>:<span class="line">{frame.line}</span> in '
        f'<span class="fn">{_e(frame.function)}</span></summary>'
        f'<pre class="source">{lines or "<span>(source not available)</span>"}</pre>'
        + (f'<table class="locals"><tr><th colspan="2">Locals</th></tr>{rows}</table>' if rows else "")
        + "</details>"
    )


def render_html(chain: list[ExceptionInfo], request: Any = None) -> str:
    """The Error Prism page for an exception chain from :func:`describe` (no script, everything escaped)."""
    last = chain[-1]
    parts = []
    for info in chain:
        user_frames = [i for i, f in enumerate(info.frames) if not f.library]
        innermost_user = user_frames[-1] if user_frames else len(info.frames) - 1
        frames = "".join(_frame_html(frame, i == innermost_user) for i, frame in enumerate(info.frames))
        parts.append(f'<section class="exc"><h2>{_e(info.message)}</h2>{frames}</section>')
        if info.relation == "cause":
            parts.append('<p class="relation">The above exception was the direct cause of the following one:</p>')
        elif info.relation == "context":
            parts.append('<p class="relation">While handling the above exception, another one was raised:</p>')
    facts = _request_facts(request) if request is not None else []
    request_rows = "".join(f'<tr><td class="k">{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in facts)
    where = f"{request.method} {request.path}" if request is not None else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(last.type)} · Error Prism</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>{_e(last.type)} <span class="where">at {_e(where)}</span></h1><p>{_e(last.message)}</p></header>'
        f"<main>{''.join(parts)}"
        + (f'<h2>Request</h2><table class="request">{request_rows}</table>' if request_rows else "")
        + '<p class="note">Error Prism is shown because the app runs with debug=True; never run production so. '
        "Secret-looking values are redacted.</p></main></body></html>\n"
    )


def debug_response(request: Any, exc: BaseException) -> Response:
    """The 500 answer of a debug app: HTML for browsers, problem+json with the traceback for API clients.

    Never raises (rule 4): if describing the exception fails, a plain traceback text is answered instead.
    """
    try:
        chain = describe(exc)
        try:
            accept = request.header("accept")
        except Exception:
            accept = None
        if wants_html(accept):
            response = Response(render_html(chain, request), status=500, content_type=HTML)
            response.headers["content-security-policy"] = CSP
            response.headers["cache-control"] = "no-store"
            return response
        last = chain[-1]
        answer = problem(
            500,
            last.message,
            title="Internal Server Error",
            exceptions=[info.to_dict() for info in chain],
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )
        answer.headers["cache-control"] = "no-store"
        return answer
    except Exception:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return Response(text, status=500, content_type="text/plain; charset=utf-8")
