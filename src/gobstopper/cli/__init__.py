"""Command-line interface: ``gobstopper run``, ``gobstopper version``.

The console script ``gobstopper`` and ``python -m gobstopper`` both call :func:`gobstopper.cli.main.main`.
"""

from __future__ import annotations
