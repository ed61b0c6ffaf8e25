"""Middleware shipped with Gobstopper."""

from .cors import CORSMiddleware
from .limits import LimitsMiddleware
from .security import SecurityMiddleware
from .static import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware, StaticMiddleware

__all__ = [
    "CORSMiddleware",
    "HybridStaticMiddleware",
    "LimitsMiddleware",
    "RustStaticMiddleware",
    "SecurityMiddleware",
    "StaticFileMiddleware",
    "StaticMiddleware",
]
