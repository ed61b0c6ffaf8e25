"""Error Prism: the debug answer to an unhandled exception (``debug=True`` apps only).

Dispatch calls :func:`debug_response` instead of the generic 500 when ``app.debug`` is true; production apps never
reach this module, and their 500 says only "The server had an internal error." Rules:

1. Browsers (``Accept`` with ``text/html``) get an HTML page: the exception chain (``raise ... from`` causes and
   implicit contexts, outermost last as Python prints them), each frame's file, line, function, its source lines
   around the failing one (which is marked) and its local variables. API clients get ``application/problem+json``
   (RFC 9457) with the same chain as data under ``exceptions``.
2. Secrets never show: a local, header or cookie whose name contains ``password``, ``passwd``, ``secret``,
   ``token``, ``key``, ``cookie``, ``authorization``, ``auth``, ``session``, ``csrf``, ``credential`` or
   ``signature`` (any case) is shown as ``[redacted]``; values are ``repr``-ed and cut at 400 characters.
3. Nothing runs in the browser: the page has no script and is sent with a CSP that forbids scripts, and there is
   no interactive console (Werkzeug's debugger PIN bypasses are the cautionary tale).
4. Rendering never raises: a ``repr`` that fails is shown as such, a frame whose source cannot be read shows none.
"""

from __future__ import annotations

from .prism import REDACTED, ExceptionInfo, FrameInfo, debug_response, describe, is_secret_name, render_html

__all__ = ["REDACTED", "ExceptionInfo", "FrameInfo", "debug_response", "describe", "is_secret_name", "render_html"]
