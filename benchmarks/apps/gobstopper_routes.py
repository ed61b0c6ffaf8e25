"""The routing benchmark app: ``GET /json/<int:id>`` among ``BENCH_ROUTES`` routes (10 or 1,000).

Environment:
    BENCH_ROUTES: how many routes to register (default 10); see ``routes_table.py`` for the mix.
    GOBSTOPPER_NATIVE: ``1`` requires the Rust router (start-up fails without it), ``0`` forces the Python one.
"""

from __future__ import annotations

import os
from typing import Any

from routes_table import route_table

from gobstopper import Gobstopper, Request

app = Gobstopper(__name__)


async def json_item(request: Request, id: int) -> dict[str, Any]:
    """Return ``{"id": id, "message": "Hello, World!"}`` (serialised by the framework)."""
    return {"id": id, "message": "Hello, World!"}


async def other(request: Request, **params: Any) -> str:
    """Every other route: never requested by the benchmark."""
    return "other"


for index, (pattern, methods) in enumerate(route_table(int(os.environ.get("BENCH_ROUTES", "10")))):
    handler = json_item if index == 0 else other
    app.route(pattern, methods=list(methods), name=f"r{index}")(handler)

if os.environ.get("GOBSTOPPER_NATIVE") == "1" and not app.rust_router_available:
    raise SystemExit("GOBSTOPPER_NATIVE=1 but the Rust router is not in use (is gobstopper_rs built?)")
if os.environ.get("GOBSTOPPER_NATIVE") == "0" and app.rust_router_available:
    raise SystemExit("GOBSTOPPER_NATIVE=0 but the Rust router is in use")
