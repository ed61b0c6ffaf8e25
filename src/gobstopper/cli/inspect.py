"""What ``gobstopper version`` prints, as plain data: versions, the native extension, the optional features."""

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


def get_version() -> str:
    """Return the installed Gobstopper version, without failing when it is not pip-installed.

    Returns:
        The distribution version, else ``gobstopper.__version__``, else ``"unknown"``.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gobstopper")
    except PackageNotFoundError:
        pass
    try:
        import gobstopper

        return str(getattr(gobstopper, "__version__", "unknown"))
    except Exception:  # a half-written core must not break `gobstopper version`
        return "unknown"


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


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
