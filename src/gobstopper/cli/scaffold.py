"""``gobstopper init`` and ``gobstopper generate``: projects and components rendered from Jinja2 templates.

The templates live in ``gobstopper/cli/templates`` (``project/`` for the files of a project, ``features/`` for each
use case's routes and their tests, ``html/`` for pages, ``generate/`` for components). Jinja2 renders them because
it is what the framework's own templates use (``pip install 'gobstopper[cli]'`` brings it); a generated project is
plain code, with no dependency on the generator. Every generated project serves with ``gobstopper run`` and its
generated tests pass (``tests/test_cli_init.py`` checks each use case × structure on a real server).

Nothing is overwritten: ``init`` refuses a non-empty target folder and ``generate`` an existing file, unless
``--force`` is given.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Use case -> its features (name, URL prefix), the reference's four (README "Available Use Cases").
USECASES: dict[str, tuple[tuple[str, str], ...]] = {
    "data-science": (("models", "/api/models"), ("datasets", "/api/datasets")),
    "real-time-dashboard": (("metrics", "/api/metrics"), ("live", "/live"), ("dashboard", "/dashboard")),
    "content-management": (
        ("auth", "/auth"),
        ("articles", "/api/articles"),
        ("media", "/api/media"),
        ("admin", "/admin"),
    ),  # fmt: skip
    "microservice": (("items", "/api/items"), ("discovery", "/services"), ("metrics", "/metrics")),
}
USECASE_HELP = {
    "data-science": "model inference and dataset statistics APIs",
    "real-time-dashboard": "live metrics over WebSocket and SSE, with a chart page",
    "content-management": "login, article CRUD, media uploads and an admin page",
    "microservice": "a small items API with discovery and metrics endpoints",
}
#: Structures (README "Available Structures").
STRUCTURES = {
    "modular": "one module per feature in modules/ (recommended for large projects)",
    "blueprints": "one blueprint per feature in blueprints/",
    "microservices": "one app per feature in services/, mounted by a gateway",
    "single": "everything in app.py",
}
#: Use cases with HTML pages (templates/ and static/).
PAGES = {"real-time-dashboard": ("dashboard.html",), "content-management": ("admin.html",)}

_PY_TYPES = {
    "str": ("str", '"text"', None),
    "int": ("int", "1", None),
    "float": ("float", "1.5", None),
    "bool": ("bool", "True", None),
    "bytes": ("bytes", 'b"data"', None),
    "datetime": ("datetime.datetime", "datetime.datetime(2024, 1, 2, 3, 4, 5)", "import datetime"),
    "date": ("datetime.date", "datetime.date(2024, 1, 2)", "import datetime"),
    "uuid": ("uuid.UUID", 'uuid.UUID("12345678-1234-5678-1234-567812345678")', "import uuid"),
    "decimal": ("decimal.Decimal", 'decimal.Decimal("1.50")', "import decimal"),
    "list": ("list[str]", '["a"]', None),
    "dict": ("dict[str, str]", '{"a": "b"}', None),
}


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 is in the [cli] extra and in dev
        raise click.ClickException("gobstopper init/generate need Jinja2: pip install 'gobstopper[cli]'") from exc
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        keep_trailing_newline=True,
        trim_blocks=False,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Python source, not HTML
    )


def _tidy(text: str) -> str:
    # Templates assembled from macros leave runs of blank lines; keep at most two (PEP 8 between definitions).
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip("\n") + "\n"


def snake(name: str) -> str:
    """``My-App`` -> ``my_app``: a Python identifier made from a project, model or task name.

    Raises:
        click.BadParameter: nothing usable is left, or it is a Python keyword.
    """
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.strip())
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not text or text[0].isdigit() or keyword.iskeyword(text):
        raise click.BadParameter(f"{name!r} does not make a Python name")
    return text


@dataclass(frozen=True)
class Feature:
    name: str
    prefix: str


def project_files(name: str, usecase: str, structure: str, version: str) -> dict[str, str]:
    """Every file of a new project, path (relative, ``/``-separated) -> text."""
    env = _environment()
    slug = snake(name)
    features = [Feature(n, p) for n, p in USECASES[usecase]]
    pages = PAGES.get(usecase, ())
    extras = ["templates"] if pages else []
    ctx = {
        "project_slug": slug,
        "project_title": name.strip() or slug,
        "usecase": usecase,
        "usecase_module": usecase.replace("-", "_"),
        "structure": structure,
        "features": features,
        "uses_templates": bool(pages),
        "gobstopper_version": version if re.fullmatch(r"\d+(\.\d+)*", version) else "0.6.0",
        "extras": extras + ["cli"],
    }
    ctx["ctx"] = ctx

    def render(template: str, **extra: Any) -> str:
        return _tidy(env.get_template(template).render(**ctx, **extra))

    files: dict[str, str] = {
        "README.md": render("project/README.md.j2"),
        "pyproject.toml": render("project/pyproject.toml.j2"),
        "requirements.txt": render("project/requirements.txt.j2"),
        ".env.example": render("project/env.example.j2"),
        ".gitignore": render("project/gitignore.j2"),
        "dev.toml": render("project/dev.toml.j2"),
        "production.toml": render("project/production.toml.j2"),
        "conftest.py": render("project/conftest.py.j2"),
        "tests/__init__.py": "",
        "tests/test_app.py": render("project/test_app.py.j2"),
    }
    for feature in features:
        files[f"tests/test_{feature.name}.py"] = render("project/test_feature.py.j2", feature=feature)
    if pages:
        files["templates/base.html"] = render("html/base.html.j2")
        for page in pages:
            files[f"templates/{page}"] = render(f"html/{page}.j2")
        files["static/style.css"] = (TEMPLATES / "html" / "style.css").read_text()
    if structure == "single":
        module = env.get_template(f"features/{ctx['usecase_module']}.py.j2").make_module(ctx)
        imports: list[str] = []
        for feature in features:
            for line in str(module.imports(feature.name)).splitlines():
                if line.strip() and line not in imports:
                    imports.append(line)
        # Standard-library imports first, then third-party ones (isort's order), each group sorted.
        imports += ["import os", "from gobstopper import Gobstopper"]
        third = [line for line in imports if line.startswith(("import msgspec", "from gobstopper"))]
        std = sorted({line for line in imports if line not in third})
        merged = std + [""] + sorted(set(third))
        files["app.py"] = render("project/app_single.py.j2", merged_imports=merged)
    else:
        files["config.py"] = render("project/config.py.j2")
        files["app.py"] = render(f"project/app_{structure}.py.j2")
        for feature in features:
            if structure == "blueprints":
                files[f"blueprints/{feature.name}.py"] = render("project/blueprint_module.py.j2", feature=feature)
            elif structure == "modular":
                files[f"modules/{feature.name}/__init__.py"] = render("project/module_init.py.j2", feature=feature)
                files[f"modules/{feature.name}/routes.py"] = render("project/blueprint_module.py.j2", feature=feature)
            else:
                files[f"services/{feature.name}/__init__.py"] = ""
                files[f"services/{feature.name}/app.py"] = render("project/service.py.j2", feature=feature)
        if structure == "blueprints":
            files["blueprints/__init__.py"] = ""
        elif structure == "modular":
            files["modules/__init__.py"] = '"""Feature modules: each exposes a blueprint ``bp``."""\n'
            files["models/__init__.py"] = '"""Data models (`gobstopper generate model NAME -f field:type`)."""\n'
            files["tasks/__init__.py"] = '"""Background tasks (`gobstopper generate task NAME -c CATEGORY`)."""\n'
        else:
            files["services/__init__.py"] = '"""The services, one app each, mounted by the gateway (app.py)."""\n'
    return files


def write_files(root: Path, files: dict[str, str], force: bool) -> list[Path]:
    """Write ``files`` under ``root``; an existing file is an error unless ``force``. Returns the paths written."""
    paths = [root / relative for relative in files]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:3])
        raise click.ClickException(f"refusing to overwrite {shown}{' ...' if len(existing) > 3 else ''} (use --force)")
    for path, text in zip(paths, files.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return paths


@click.command("init", context_settings=CONTEXT_SETTINGS)
@click.argument("name", required=False)
@click.option("-u", "--usecase", type=click.Choice(list(USECASES)), help="What the project does.")
@click.option("-s", "--structure", type=click.Choice(list(STRUCTURES)), help="How the code is laid out.")
@click.option("-d", "--directory", type=click.Path(file_okay=False, path_type=Path), help="Where (default: ./NAME).")
@click.option("-i", "--interactive", is_flag=True, help="Ask for every choice, even those given as flags.")
@click.option("--force", is_flag=True, help="Write into a folder that already has files (overwriting them).")
def init(
    name: str | None, usecase: str | None, structure: str | None, directory: Path | None, interactive: bool, force: bool
) -> None:
    """Create a project NAME (asks for what is missing when run in a terminal).

    \b
    Use cases:  data-science, real-time-dashboard, content-management, microservice
    Structures: modular, blueprints, microservices, single
    Example:    gobstopper init my-api --usecase data-science --structure modular
    """
    from gobstopper.cli.inspect import get_version

    ask = interactive or None in (name, usecase, structure)
    if ask:
        if name is None or interactive:
            name = click.prompt("Project name", default=name or "my_app")
        if usecase is None or interactive:
            for key, text in USECASE_HELP.items():
                click.echo(f"  {key:<20} {text}")
            usecase = click.prompt("Use case", type=click.Choice(list(USECASES)), default=usecase or "microservice")
        if structure is None or interactive:
            for key, text in STRUCTURES.items():
                click.echo(f"  {key:<20} {text}")
            structure = click.prompt("Structure", type=click.Choice(list(STRUCTURES)), default=structure or "modular")
    assert name is not None and usecase is not None and structure is not None
    snake(name)  # fails early on a name that makes no Python identifier
    root = directory if directory is not None else Path.cwd() / name
    if root.exists() and any(root.iterdir()) and not force:
        raise click.ClickException(f"{root} is not empty (use --force to write into it)")
    written = write_files(root, project_files(name, usecase, structure, get_version()), force)
    click.echo(f"Created {name} ({usecase}, {structure}) in {root}: {len(written)} files")
    click.echo(f"\n  cd {root}\n  pip install -r requirements.txt\n  gobstopper run --reload\n  python -m pytest\n")


# -- generate ---------------------------------------------------------------------------------------------------


@click.group("generate", context_settings=CONTEXT_SETTINGS)
def generate() -> None:
    """Generate a component and its test in the current project (models/, endpoints/, tasks/, sockets/)."""


def _write_component(templates: dict[str, str], ctx: dict[str, Any], force: bool) -> None:
    """Render each ``{path: template}`` with ``ctx`` and write it under the working directory (packages get an
    ``__init__.py``)."""
    env = _environment()
    files = {path: _tidy(env.get_template(template).render(**ctx)) for path, template in templates.items()}
    for path in write_files(Path.cwd(), files, force):
        click.echo(f"wrote {path.relative_to(Path.cwd())}")
    for package in {Path(relative).parts[0] for relative in files}:
        init_file = Path.cwd() / package / "__init__.py"
        if not init_file.exists():
            init_file.write_text("")


def _path_params(path: str) -> tuple[list[str], str]:
    """The parameter names of a route pattern and a sample path filling them (``<int:id>`` -> ``1``)."""
    params: list[str] = []

    def sample(match: re.Match[str]) -> str:
        convertor, _, name = match.group(1).rpartition(":")
        params.append(name)
        return {"int": "1", "float": "1.5", "uuid": "12345678-1234-5678-1234-567812345678",
                "date": "2024-01-02", "path": "a/b"}.get(convertor, "sample")  # fmt: skip

    sample_path = re.sub(r"<([^<>]+)>", sample, path)
    for param in params:
        if not param.isidentifier() or keyword.iskeyword(param):
            raise click.BadParameter(f"path parameter {param!r} is not a Python name", param_hint="PATH")
    return params, sample_path


def _check_path(path: str) -> str:
    if not path.startswith("/"):
        raise click.BadParameter("a route path starts with '/'", param_hint="PATH")
    return path


def _stem(path: str) -> str:
    """A module name for a route: its segments, parameters by name (``/api/items/<int:item_id>`` ->
    ``api_items_item_id``), so ``/api/users`` and ``/api/users/<int:id>`` get different files."""
    named = re.sub(r"<(?:[^<>:]*:)?([^<>]*)>", r"\1", path)
    return snake(named) or "root"


@generate.command("model", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option("-f", "--fields", "fields", multiple=True, metavar="NAME:TYPE", help="A field (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def generate_model(name: str, fields: tuple[str, ...], force: bool) -> None:
    """A msgspec model in models/NAME.py and its test. TYPE: str, int, float, bool, bytes, datetime, date, uuid,
    decimal, list, dict (add ? for optional: -f nickname:str?).

    \b
    Example: gobstopper generate model User -f name:str -f email:str -f created_at:datetime -f is_active:bool
    """
    class_name = "".join(part.capitalize() for part in snake(name).split("_"))
    parsed, imports = [], set()
    for spec in fields:
        field_name, _, type_name = spec.partition(":")
        optional = type_name.endswith("?")
        type_name = (type_name.rstrip("?") or "str").lower()
        if type_name not in _PY_TYPES:
            raise click.BadParameter(f"unknown type {type_name!r} in {spec!r} (known: {', '.join(_PY_TYPES)})")
        if not field_name.isidentifier() or keyword.iskeyword(field_name):
            raise click.BadParameter(f"{field_name!r} is not a Python name", param_hint="--fields")
        annotation, sample, needed = _PY_TYPES[type_name]
        if needed:
            imports.add(needed)
        parsed.append({"name": field_name, "type": annotation + (" | None = None" if optional else ""),
                       "sample": sample})  # fmt: skip
    # Required fields before optional ones (keyword-only anyway, but the generated code reads better).
    parsed.sort(key=lambda f: "None = None" in f["type"])
    ctx = {"class_name": class_name, "module_name": snake(name), "fields": parsed, "imports": sorted(imports)}
    module = snake(name)
    _write_component(
        {f"models/{module}.py": "generate/model.py.j2", f"tests/test_model_{module}.py": "generate/test_model.py.j2"},
        ctx,
        force,
    )


@generate.command("endpoint", context_settings=CONTEXT_SETTINGS)
@click.argument("path")
@click.option(
    "-m",
    "--method",
    default="GET",
    show_default=True,
    type=click.Choice(["GET", "POST", "PUT", "PATCH", "DELETE"], case_sensitive=False),
)
@click.option("--auth", is_flag=True, help="Require a bearer token (the API_TOKEN environment variable).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def generate_endpoint(path: str, method: str, auth: bool, force: bool) -> None:
    """A route in endpoints/ (a blueprint to register) and its test.

    \b
    Example: gobstopper generate endpoint /api/users -m POST --auth
    """
    method = method.upper()
    params, sample_path = _path_params(_check_path(path))
    module = f"{method.lower()}_{_stem(path)}"
    ctx = {
        "path": path,
        "method": method,
        "auth": auth,
        "params": params,
        "sample_path": sample_path,
        "module_name": module,
        "function_name": module,
        "blueprint_name": module,
        "body": method in ("POST", "PUT", "PATCH"),
    }
    _write_component(
        {
            f"endpoints/{module}.py": "generate/endpoint.py.j2",
            f"tests/test_endpoint_{module}.py": "generate/test_endpoint.py.j2",
        },
        ctx,
        force,
    )
    click.echo(f"register it: from endpoints.{module} import bp; app.register_blueprint(bp)")


@generate.command("task", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option("-c", "--category", default="default", show_default=True, help="The worker pool that runs it.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def generate_task(name: str, category: str, force: bool) -> None:
    """A background task in tasks/NAME.py and its test.

    \b
    Example: gobstopper generate task process_data --category data
    """
    ctx = {"name": snake(name), "category": category}
    _write_component(
        {
            f"tasks/{ctx['name']}.py": "generate/task.py.j2",
            f"tests/test_task_{ctx['name']}.py": "generate/test_task.py.j2",
        },
        ctx,
        force,
    )
    click.echo(f"register it: from tasks.{ctx['name']} import register; register(app)")


@generate.command("websocket", context_settings=CONTEXT_SETTINGS)
@click.argument("path")
@click.option("--room-based", is_flag=True, help="Clients join a room (?room=) and messages go to the whole room.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def generate_websocket(path: str, room_based: bool, force: bool) -> None:
    """A WebSocket handler in sockets/ (a blueprint to register) and its test.

    \b
    Example: gobstopper generate websocket /ws/live --room-based
    """
    params, sample_path = _path_params(_check_path(path))
    stem = _stem(path)
    module = stem if stem.startswith("ws_") else f"ws_{stem}"  # /ws/live -> ws_live, /live -> ws_live
    ctx = {
        "path": path,
        "params": params,
        "sample_path": sample_path,
        "room_based": room_based,
        "module_name": module,
        "function_name": module,
        "blueprint_name": module,
    }
    _write_component(
        {
            f"sockets/{module}.py": "generate/websocket.py.j2",
            f"tests/test_{module}.py": "generate/test_websocket.py.j2",
        },
        ctx,
        force,
    )
    click.echo(f"register it: from sockets.{module} import bp; app.register_blueprint(bp)")


COMMANDS = (init, generate)
