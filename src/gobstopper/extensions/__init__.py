"""Gobstopper's optional extensions (``openapi``, ``datastar``, ``charts``...) and the protocol every extension
follows.

>>> from gobstopper.extensions import Extension
"""

from __future__ import annotations

from typing import Any

from ..core.extension import Extension

__all__ = ["ChartExtension", "Extension"]


def __getattr__(name: str) -> Any:
    # The reference exports ChartExtension here; imported on first use only (the charts package is optional).
    if name == "ChartExtension":
        from .charts import ChartExtension

        return ChartExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
