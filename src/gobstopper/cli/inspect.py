"""What ``gobstopper routes`` and ``gobstopper version`` print, as plain data (Mission Control shows the same)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from typing import Any

#: Optional features: name -> (the extra that installs it, the distributions it needs).
FEATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "templates": ("templates", ("jinja2",)),
    "tasks (DuckDB)": ("tasks", ("duckdb",)),
    "redis": ("redis", ("redis",)),
    "postgres": ("postgres", ("asyncpg",)),
    "datastar": ("datastar", ("datastar-py",)),
    "openapi": ("openapi", ("swagger-ui-bundle-v2", "openapi-ui-bundles")),
    "reload": ("cli", ("watchfiles",)),
    "share (QR code)": ("cli", ("segno",)),
    "mission control": ("mission-control", ("psutil",)),
}


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


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


def native_status() -> str:
    """Whether the Rust extension ``gobstopper_rs`` is installed, its version, and whether it is used."""
    if importlib.util.find_spec("gobstopper_rs") is None:
        return "not installed (pure-Python router and static files; pip install 'gobstopper[rust]')"
    version = _dist_version("gobstopper-rs") or "?"
    from gobstopper import _native

    used = "in use" if _native.NATIVE else "installed but off (GOBSTOPPER_NATIVE=0)"
    return f"gobstopper_rs {version}, {used}"


def environment_report(gobstopper_version: str) -> dict[str, Any]:
    """Versions of Gobstopper, Python, the servers and the native extension, and which optional features are
    installed (with the extra that adds a missing one)."""
    features = {}
    for feature, (extra, dists) in FEATURES.items():
        versions = [(dist, _dist_version(dist)) for dist in dists]
        missing = [dist for dist, found in versions if found is None]
        if missing:
            features[feature] = f"not installed (pip install 'gobstopper[{extra}]')"
        else:
            features[feature] = ", ".join(f"{dist} {found}" for dist, found in versions)
    return {
        "gobstopper": gobstopper_version,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "servers": {
            "granian": _dist_version("granian") or "not installed",
            "uvicorn": _dist_version("uvicorn") or "not installed",
        },
        "native": native_status(),
        "native_env": os.environ.get("GOBSTOPPER_NATIVE"),
        "features": features,
    }
