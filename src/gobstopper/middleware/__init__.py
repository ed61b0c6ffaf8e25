"""Middleware shipped with Gobstopper."""

from .cors import CORSMiddleware
from .security import SecurityMiddleware
from .static import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware

__all__ = [
    "CORSMiddleware",
    "HybridStaticMiddleware",
    "RustStaticMiddleware",
    "SecurityMiddleware",
    "StaticFileMiddleware",
]
