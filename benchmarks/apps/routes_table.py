"""The route tables of the routing benchmarks, built programmatically (shared by the apps and the microbenchmark).

A table of ``n`` routes always holds the measured endpoint ``GET /json/<int:id>`` plus ``n - 1`` other routes,
a realistic mix taken in order from "resources" of ten routes each: static paths, typed parameters (``int``,
``uuid``), ``str`` parameters, nested and multi-parameter paths, a ``path`` tail, a few non-GET methods, and
siblings of the measured route under ``/json/``. The 10-route table is the first nine of the 1,000-route one.
"""

from __future__ import annotations

from collections.abc import Iterator

#: The measured endpoint (registered first, so registration order favours neither table).
TARGET = "/json/<int:id>"
#: A path it answers, and the parameters it yields.
TARGET_PATH = "/json/42"
TARGET_PARAMS = {"id": 42}


def _resource(k: int) -> Iterator[tuple[str, tuple[str, ...]]]:
    base = f"/api/v1/res{k}"
    yield base, ("GET", "POST")
    yield f"{base}/new", ("GET",)
    yield f"{base}/<int:item_id>", ("GET", "PUT", "DELETE")
    yield f"{base}/<int:item_id>/edit", ("GET",)
    yield f"{base}/by-key/<uuid:key>", ("GET",)
    yield f"{base}/by-name/<name>", ("GET",)
    yield f"{base}/<int:item_id>/parts/<int:part_id>", ("GET",)
    yield f"/pages/p{k}/<slug>", ("GET",)
    yield f"/files{k}/<path:rest>", ("GET",)
    yield f"/json/{k}/latest" if k % 2 else f"/json/<int:id>/v{k}", ("GET",)


def route_table(n: int) -> list[tuple[str, tuple[str, ...]]]:
    """``n`` ``(pattern, methods)`` pairs: :data:`TARGET` first, then the fillers.

    Args:
        n: The number of routes (at least 1).

    Returns:
        The table, in registration order.
    """
    table: list[tuple[str, tuple[str, ...]]] = [(TARGET, ("GET",))]
    k = 0
    while len(table) < n:
        for entry in _resource(k):
            if len(table) == n:
                break
            table.append(entry)
        k += 1
    return table


def static_sample(n: int) -> str:
    """A static path of the ``n``-route table (for the lookup microbenchmark): the last ``.../new`` in it."""
    statics = [p for p, _ in route_table(n) if "<" not in p and p.endswith("/new")]
    return statics[-1]
