"""Middleware shipped with Gobstopper."""

from ..sessions.middleware import SessionMiddleware
from .cors import CORSMiddleware
from .csrf import CSRFMiddleware
from .limits import LimitsMiddleware
from .security import SecurityMiddleware
from .security_headers import SecurityHeadersMiddleware
from .static import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware, StaticMiddleware

__all__ = [
    "CORSMiddleware",
    "CSRFMiddleware",
    "HybridStaticMiddleware",
    "LimitsMiddleware",
    "RustStaticMiddleware",
    "SecurityHeadersMiddleware",
    "SecurityMiddleware",
    "SessionMiddleware",
    "StaticFileMiddleware",
    "StaticMiddleware",
]
