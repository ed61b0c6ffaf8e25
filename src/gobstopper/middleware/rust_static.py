"""The reference's module for ``RustStaticMiddleware`` and ``HybridStaticMiddleware`` (one implementation)."""

from .static import HybridStaticMiddleware, RustStaticMiddleware

__all__ = ["HybridStaticMiddleware", "RustStaticMiddleware"]
