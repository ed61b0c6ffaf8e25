"""``gobstopper check``: load an app and report on it; ``--deploy`` names what a production deployment leaves open
(the list is :func:`gobstopper.deploy.deploy_findings`; ``docs/deployment.md``, "The deploy check").

Self-contained: ``cli/main.py`` only registers :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from .serve import ServeConfig, TargetError, ensure_importable, normalize_target

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}


def load_app(target: str, working_dir: Path | None = None) -> Any:
    """Import ``module:attribute`` from ``working_dir`` (the current directory) and return the attribute.

    Raises:
        click.UsageError: the target is malformed, its module cannot be found, or it names no Gobstopper app.
    """
    try:
        config = ServeConfig(target=normalize_target(target), working_dir=working_dir or Path.cwd())
        ensure_importable(config)
    except TargetError as exc:
        raise click.UsageError(str(exc)) from exc
    module_name, _, attr = config.target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise click.UsageError(f"{module_name!r} has no attribute {attr!r}")
    if not (hasattr(obj, "settings") and hasattr(obj, "route_table")):
        raise click.UsageError(f"{config.target} is not a Gobstopper app ({type(obj).__name__})")
    return obj


@click.command("check", context_settings=CONTEXT_SETTINGS)
@click.argument("app", default="app:app", metavar="[MODULE:APP]")
@click.option("--deploy", is_flag=True, help="Name what a production deployment leaves open (exit 1 if anything).")
def check(app: str, deploy: bool) -> None:
    """Load MODULE:APP (default app:app) from the current directory and check it.

    \b
    Examples:
      gobstopper check                 # the app imports; how many routes it has
      gobstopper check --deploy        # trusted hosts, WebSocket origins, debug, keys, cookies, body timeout
    """
    from ..deploy import deploy_findings

    loaded = load_app(app)
    routes = len(loaded.route_table)
    if not deploy:
        click.echo(f"{app}: {routes} route(s); run with --deploy for the production checks")
        return
    findings = deploy_findings(loaded)
    if not findings:
        click.echo(f"{app}: nothing left open for a production deployment")
        return
    click.echo(f"{app}: {len(findings)} thing(s) left open for a production deployment:")
    for finding in findings:
        click.echo(f"- {finding}")
    raise SystemExit(1)


COMMANDS = (check,)
