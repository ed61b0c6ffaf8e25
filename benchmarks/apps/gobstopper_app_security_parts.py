"""The hello-world app behind the three parts of ``SecurityMiddleware`` added one by one (headers, sessions, CSRF).

``benchmarks/instructions.py`` compares it with ``gobstopper_app_security``: what running the parts as three
middleware layers costs over ``SecurityMiddleware``'s one.
"""

from __future__ import annotations

from gobstopper.middleware import CSRFMiddleware, SecurityHeadersMiddleware
from gobstopper.sessions import MemorySessionStorage, SessionMiddleware

from .gobstopper_app import app

app.add_middleware(SecurityHeadersMiddleware(), priority=1100)
app.add_middleware(
    SessionMiddleware("benchmark-secret-key-0123456789abcdef", MemorySessionStorage()),
    priority=1000,
)
app.add_middleware(CSRFMiddleware(), priority=900)
