"""The hello-world app behind ``SecurityMiddleware`` (sessions, CSRF, security headers; defaults otherwise).

``benchmarks/instructions.py`` compares it with ``gobstopper_app``: what the middleware costs a request without a
session cookie (an anonymous session that is never stored, the CSRF check skipped for GET, the headers added).
"""

from __future__ import annotations

from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions import MemorySessionStorage

from .gobstopper_app import app

app.add_middleware(
    SecurityMiddleware(secret_key="benchmark-secret-key-0123456789abcdef", session_storage=MemorySessionStorage()),
    priority=1000,
)
