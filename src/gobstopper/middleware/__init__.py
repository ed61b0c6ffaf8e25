"""Middleware shipped with Gobstopper."""

from .static import HybridStaticMiddleware, RustStaticMiddleware, StaticFileMiddleware

__all__ = ["HybridStaticMiddleware", "RustStaticMiddleware", "StaticFileMiddleware"]
