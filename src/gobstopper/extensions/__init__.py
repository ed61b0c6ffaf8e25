"""Gobstopper's optional extensions (``openapi``, ``datastar``, ...) and the protocol every extension follows.

>>> from gobstopper.extensions import Extension
"""

from ..core.extension import Extension

__all__ = ["Extension"]
