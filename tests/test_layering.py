"""docs/design.md §2: the core never imports a server protocol; adapters are the only protocol code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "src" / "gobstopper"
FORBIDDEN_PREFIXES = ("granian", "uvicorn", "gobstopper.adapters", "starlette.requests", "starlette.responses")
# The trampoline giving the app its server entry points imports the adapters lazily, by design.
TRAMPOLINE = CORE / "core" / "_entry.py"
# The test client is, by definition, bound to the ASGI side (Starlette's TestClient).
TESTING = CORE / "testing.py"
# The CLI launches servers (that is its job) and is never imported by request-handling code.
CLI = CORE / "cli"
MAIN = CORE / "__main__.py"  # ``python -m gobstopper`` is the CLI too
# From starlette.routing only compile_path may be used (no ASGI apps).
ALLOWED_FROM_STARLETTE_ROUTING = {"compile_path"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # A relative import climbing out of the package into adapters would be a violation too.
            if node.module and node.module.startswith("adapters"):
                found.append(("gobstopper." + node.module, []))
    return found


def core_modules() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if p not in (TRAMPOLINE, TESTING, MAIN) and CLI not in p.parents]


def test_nothing_in_the_core_imports_the_cli() -> None:
    users = [p for p in core_modules() if any(m.startswith("gobstopper.cli") for m, _ in imports(p))]
    assert users == []


def test_core_imports_no_server_protocol() -> None:
    violations = []
    for path in core_modules():
        for module, names in imports(path):
            if module.startswith(FORBIDDEN_PREFIXES):
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
            if module == "starlette.routing" and set(names) - ALLOWED_FROM_STARLETTE_ROUTING:
                violations.append(f"{path.relative_to(ROOT)} imports {names} from starlette.routing")
    assert violations == []


# What only a server protocol has: RSGI protocol methods and ASGI event types.
RSGI_METHODS = {"response_bytes", "response_str", "response_file", "response_file_range", "response_stream",
                "response_empty", "client_disconnect"}  # fmt: skip
ASGI_EVENT = ("http.response.", "http.request", "http.disconnect", "websocket.", "lifespan.")


def test_core_never_drives_a_server_protocol() -> None:
    # Rule 2: the core talks to servers only through the interfaces of gobstopper.adapter; it never calls an RSGI
    # protocol method nor builds or reads an ASGI event.
    violations = []
    for path in core_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in RSGI_METHODS:
                violations.append(f"{path.relative_to(ROOT)}:{node.lineno} uses .{node.attr}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(ASGI_EVENT):
                violations.append(f"{path.relative_to(ROOT)}:{node.lineno} names the ASGI event {node.value!r}")
    assert violations == []


def test_the_adapters_implement_the_interface() -> None:
    from gobstopper.adapter import HeaderSource, RequestSource, WebSocketChannel
    from gobstopper.adapters import asgi, rsgi

    assert isinstance(rsgi.SOURCE, RequestSource) and isinstance(asgi.SOURCE, RequestSource)
    assert isinstance(asgi.RawHeaders([]), HeaderSource)
    assert isinstance(rsgi.RSGIWebSocketChannel(object()), WebSocketChannel)
    assert isinstance(asgi.ASGIWebSocketChannel({}, None, None), WebSocketChannel)


def test_the_trampoline_is_the_only_core_module_that_mentions_the_adapters() -> None:
    mentions = [p for p in core_modules() if "gobstopper.adapters" in p.read_text()]
    assert mentions == []
    assert "gobstopper.adapters" in TRAMPOLINE.read_text()


def test_both_adapters_have_the_same_shape() -> None:
    # Rule 4: same names, same order of steps.
    def shape(path: Path) -> list[str]:
        tree = ast.parse(path.read_text())
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        return [f"{c.name[4:]}.{f.name}" for c in classes for f in c.body if isinstance(f, functions)]

    rsgi = shape(ROOT / "adapters" / "rsgi.py")
    asgi = shape(ROOT / "adapters" / "asgi.py")
    common = [name for name in rsgi if name in asgi]
    for name in (
        "Source.query_string",
        "Source.headers",
        "Source.connection",
        "Source.body",
        "Adapter.__call__",
        "Adapter._send_file",
        "Adapter._send_stream",
    ):
        assert name in common, name
    assert common == [name for name in asgi if name in rsgi]  # same relative order
