"""Finding the user's app: ``module:attribute`` import strings, with errors that say what to do instead.

``gobstopper run`` only *locates* the module (the server imports it in its workers); ``routes``, ``run-tasks`` and
extension commands import it here, from the current directory.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

#: Environment variable naming the app when no argument does (as ``FLASK_APP`` does for Flask).
APP_ENV = "GOBSTOPPER_APP"
DEFAULT_APP = "app:app"


class TargetError(ValueError):
    """The ``module:attribute`` target is malformed, cannot be found or is not a Gobstopper app."""


def normalize_target(target: str) -> str:
    """Turn what the user typed into a ``module:attribute`` import string.

    ``app`` becomes ``app:app``; ``pkg/hello.py:api`` becomes ``pkg.hello:api``.

    Raises:
        TargetError: the module or attribute part is empty or not a dotted name.
    """
    module, sep, attr = target.strip().partition(":")
    if not sep:
        attr = "app"
    if module.endswith(".py"):
        module = module[:-3].replace(os.sep, ".").replace("/", ".")
    module = module.strip(".")
    parts_ok = module and all(part.isidentifier() for part in module.split("."))
    attr_ok = attr and all(part.isidentifier() for part in attr.split("."))
    if not parts_ok or not attr_ok:
        raise TargetError(f"invalid app {target!r}: expected 'module:attribute', e.g. 'app:app' or 'hello:app'")
    return f"{module}:{attr}"


def candidates(directory: Path) -> list[str]:
    """Import strings of the apps that Python files directly in ``directory`` seem to define (a module-level
    ``name = Gobstopper(...)``), read as text, not imported."""
    found = []
    for path in sorted(directory.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            name = name.strip()
            if sep and name.isidentifier() and value.strip().startswith("Gobstopper("):
                found.append(f"{path.stem}:{name}")
    return found


def _hint(directory: Path) -> str:
    found = candidates(directory)
    if found:
        return f"; apps found in {directory}: {', '.join(found)} (e.g. gobstopper run {found[0]})"
    return f"; no Python file in {directory} defines `app = Gobstopper(...)` (run gobstopper from the app's folder)"


def locate(target: str, directory: Path) -> str:
    """Check that ``target``'s module can be imported from ``directory`` without importing it; put ``directory``
    first on ``sys.path``. Returns the normalised target.

    Raises:
        TargetError: malformed target, or no such module (the message lists the apps found in ``directory``).
    """
    target = normalize_target(target)
    wd = str(directory.resolve())
    if wd not in sys.path:
        sys.path.insert(0, wd)
    module = target.partition(":")[0]
    importlib.invalidate_caches()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise TargetError(f"cannot import {module!r} from {wd}: {exc}") from exc
    if spec is None:
        raise TargetError(f"cannot find module {module!r} in {wd}{_hint(directory)}")
    attr = target.partition(":")[2].split(".")[0]
    if spec.origin and spec.origin.endswith(".py") and not _may_bind(Path(spec.origin), attr):
        raise TargetError(f"module {module!r} ({spec.origin}) never defines {attr!r}{_hint(directory)}")
    return target


def _may_bind(source: Path, name: str) -> bool:
    """Whether the module's source could bind ``name``, read without running it (so a typo in ``module:app`` is a
    clear error here rather than a crash loop in the server's workers).

    Over-inclusive on purpose: any binding anywhere in the file counts, and a star import, ``globals()`` or
    ``__getattr__`` (names made at run time) or unreadable source answers yes.
    """
    try:
        tree = ast.parse(source.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return True  # the import itself will report it, in the worker
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (isinstance(node.ctx, ast.Store) or node.id == "globals"):
            if node.id in (name, "globals"):
                return True
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in (name, "__getattr__"):
                return True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name.split(".")[0]) == name:
                    return True
        elif isinstance(node, ast.Global) and name in node.names:
            return True
    return False


def is_app(value: Any) -> bool:
    """Whether ``value`` looks like a Gobstopper app (duck-typed: the CLI never imports the app class)."""
    return hasattr(type(value), "route_table") and callable(getattr(value, "register_extension", None))


def load_app(target: str | None = None, directory: Path | None = None) -> Any:
    """Import ``module:attribute`` (default: ``$GOBSTOPPER_APP``, else ``app:app``) from ``directory`` (the current
    one) and return the object.

    Raises:
        TargetError: malformed target, module not found or failing to import, attribute missing (the message
            names the Gobstopper apps the module does define).
    """
    directory = Path.cwd() if directory is None else directory
    target = locate(target or os.environ.get(APP_ENV) or DEFAULT_APP, directory)
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    module = obj
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        apps = [name for name, value in vars(module).items() if is_app(value)]
        hint = f"; it defines {', '.join(f'{module_name}:{a}' for a in apps)}" if apps else ""
        raise TargetError(f"module {module_name!r} has no attribute {attr!r}{hint}") from None
    return obj
