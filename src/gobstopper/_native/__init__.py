"""The one place that imports ``gobstopper_rs``: it picks the Rust or the Python router and static resolver.

``GOBSTOPPER_NATIVE=0`` forces the Python implementation (tests run both). Read once, at import.
"""

from __future__ import annotations

import os
from typing import Any

from . import statics
from .pattern import get_convertor
from .router import RouteConflict
from .router import Router as PythonRouter

UnsupportedConvertor: type[Exception]
#: The conflict errors either router raises (the app re-raises them as ``RouteConflict``).
ROUTE_CONFLICTS: tuple[type[Exception], ...] = (RouteConflict,)

if os.environ.get("GOBSTOPPER_NATIVE", "1") == "0":
    RustRouter: Any = None
else:
    try:
        from gobstopper_rs import RouteConflict as RustRouteConflict
        from gobstopper_rs import Router as RustRouter
        from gobstopper_rs import UnsupportedConvertor

        ROUTE_CONFLICTS = (RouteConflict, RustRouteConflict)
    except ImportError:
        RustRouter = None

if RustRouter is not None:
    import gobstopper_rs

    # The Rust router hard-codes each convertor's regex; if the registry was changed, only Python is right.
    if any(get_convertor(name).regex != regex for name, regex in gobstopper_rs.CONVERTOR_REGEXES.items()):
        RustRouter = None
    StaticResolver: Any = gobstopper_rs.StaticResolver
    resolve_static: Any = gobstopper_rs.resolve
else:
    StaticResolver = statics.StaticResolver
    resolve_static = statics.resolve

#: Whether the native extension serves this process (router and static files).
NATIVE = RustRouter is not None

if RustRouter is None:

    class UnsupportedConvertor(Exception):  # type: ignore[no-redef]
        """Never raised: there is no Rust router in this process."""


def new_router(prefer_native: bool = True) -> tuple[Any, bool]:
    """A fresh router and whether it is the Rust one."""
    if prefer_native and RustRouter is not None:
        return RustRouter(), True
    return PythonRouter(), False
