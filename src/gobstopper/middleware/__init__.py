"""Middleware shipped with Gobstopper."""

from .limits import LimitsMiddleware
from .static import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware

__all__ = ["HybridStaticMiddleware", "LimitsMiddleware", "RustStaticMiddleware", "StaticFileMiddleware"]
