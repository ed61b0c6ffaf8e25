"""What ``gobstopper routes`` prints, as plain data; Mission Control shows the same table."""

from __future__ import annotations

from typing import Any


def route_rows(app: Any, prefix: str = "") -> list[dict[str, Any]]:
    """One dict per route of ``app.route_table`` (then of each mounted app, paths prefixed): ``methods``, ``path``,
    ``name``, ``handler`` (``module.qualname``), ``blueprint`` (innermost qualified name or ``None``),
    ``websocket``, ``params`` (``[{name, convertor}]``) and ``doc`` (first line)."""
    rows = []
    for record in app.route_table:
        handler = record.handler
        label = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', type(handler).__name__)}"
        doc = (record.doc or "").strip().splitlines()
        rows.append(
            {
                "methods": list(record.methods),
                "path": prefix + record.pattern if record.pattern != "/" or not prefix else prefix,
                "name": record.name,
                "handler": label,
                "blueprint": record.blueprints[-1] if record.blueprints else None,
                "websocket": record.websocket,
                "params": [{"name": p.name, "convertor": p.convertor} for p in record.params],
                "doc": doc[0] if doc else None,
            }
        )
    for mount_prefix, sub in getattr(app, "mounts", ()):
        rows += route_rows(sub, prefix + mount_prefix)
    return rows
