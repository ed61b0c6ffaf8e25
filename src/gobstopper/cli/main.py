"""The ``gobstopper`` command: a click group.

Built in: ``run``, ``config show``, ``routes``, ``version``, ``init``, ``generate``, and the task and event commands
(``run-tasks``, ``cleanup-tasks``, ``tasks``, ``eda``, ``migrate``). Any other command name is looked up among the
app's extensions: an extension's ``cli`` attribute (a ``click.Group``) is a command under the extension's name
(``docs/extensions.md``); the app is ``--app``, else ``$GOBSTOPPER_APP``, else ``app:app``.

``-h`` is ``--host`` (as in the reference CLI), so help is ``--help`` only.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gobstopper.cli import serve
from gobstopper.cli.config import INTERFACES, KEYS, LOG_LEVELS, SERVERS, ConfigError, RunSettings, resolve
from gobstopper.cli.discovery import APP_ENV, TargetError, load_app
from gobstopper.cli.inspect import get_version
from gobstopper.cli.serve import ServeConfig

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Not click.version_option: that raises RuntimeError when the package metadata is missing.
    if value and not ctx.resilient_parsing:
        click.echo(f"Gobstopper v{get_version()}")
        ctx.exit()


class GobstopperGroup(click.Group):
    """The root group: built-in commands, then the CLI groups of the app's extensions (loaded on demand)."""

    def _app(self, ctx: click.Context) -> Any:
        if "gobstopper.app" not in ctx.meta:
            target = ctx.params.get("app_target")
            try:
                ctx.meta["gobstopper.app"] = load_app(target)
            except TargetError as exc:
                ctx.meta["gobstopper.app"] = None
                ctx.meta["gobstopper.app_error"] = str(exc)
        return ctx.meta["gobstopper.app"]

    def extension_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """The ``cli`` groups of the app's extensions, by extension name (none when the app cannot be loaded)."""
        app = self._app(ctx)
        commands: dict[str, click.Command] = {}
        for name, extension in (getattr(app, "extensions", None) or {}).items():
            group = getattr(extension, "cli", None)
            if isinstance(group, click.Command) and name not in self.commands:
                commands[name] = group
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(super().list_commands(ctx))
        if not ctx.resilient_parsing:
            names += sorted(self.extension_commands(ctx))
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return self.extension_commands(ctx).get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            error = ctx.meta.get("gobstopper.app_error")
            if error:
                ctx.fail(f"No such command {name!r} (extension commands come from the app, not loaded: {error})")
        return super().resolve_command(ctx, args)


@click.group(cls=GobstopperGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option(
    "--app",
    "app_target",
    envvar=APP_ENV,
    is_eager=True,  # read before --help, which lists the app's extension commands
    metavar="MODULE:APP",
    help=f"The app whose extensions add commands (env {APP_ENV}; default app:app).",
)
def cli(app_target: str | None) -> None:
    """Gobstopper: a Flask-like async web framework for Granian RSGI and ASGI."""


# -- run and config show ---------------------------------------------------------------------------------------


def run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The settings options shared by ``run`` and ``config show`` (defaults are resolved by cli/config.py)."""
    options = [
        click.argument("app", required=False, metavar="[MODULE:APP]"),
        click.option("-c", "--config", "config_name", metavar="NAME", help="Load NAME.json or NAME.toml first."),
        click.option("-h", "--host", help="Address to bind. [default: 127.0.0.1]"),
        click.option("-p", "--port", type=click.IntRange(0, 65535), help="Port to bind. [default: 8000]"),
        click.option("-w", "--workers", type=click.IntRange(min=1), help="Worker processes. [default: 1]"),
        click.option(
            "-t", "--threads", type=click.IntRange(min=1), help="Runtime threads per worker (Granian). [default: 1]"
        ),
        click.option(
            "--interface",
            type=click.Choice(INTERFACES),
            help="Protocol between server and app. [default: rsgi with granian; uvicorn is always asgi]",
        ),
        click.option("--server", type=click.Choice(SERVERS), help="Server to run. [default: granian]"),
        click.option("-r", "--reload/--no-reload", default=None, help="Restart on code/config changes (dev)."),
        click.option("--log-level", type=click.Choice(LOG_LEVELS), help="Server log level. [default: info]"),
        click.option("--access-log/--no-access-log", default=None, help="Log every request. [default: off]"),
        click.option(
            "--reload-path",
            "reload_paths",
            multiple=True,
            metavar="PATH",
            help="Another file or folder whose changes restart (repeatable).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from(config_name: str | None, given: dict[str, Any]) -> RunSettings:
    """The effective run settings for the options typed on the command line (``None``/empty means not given)."""
    flags = {name: value for name, value in given.items() if name in KEYS and value not in (None, ())}
    try:
        return resolve(flags, config_name)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@cli.command(context_settings=CONTEXT_SETTINGS)
@run_options
@click.option("--share", is_flag=True, help="Serve on every interface and print the LAN URL with a QR code.")
def run(config_name: str | None, share: bool, **given: Any) -> None:
    """Serve MODULE:APP (default app:app) from the current directory.

    Settings come from flags, then GOBSTOPPER_* environment variables (GOBSTOPPER_PORT...), then the --config
    file, then defaults; `gobstopper config show` prints them with their source.

    \b
    Examples:
      gobstopper run                       # app:app on http://127.0.0.1:8000 (granian, RSGI)
      gobstopper run hello:app --reload    # restart when code or config changes
      gobstopper run --config production -w 8
      gobstopper run --share               # reachable from your phone on the same network
      gobstopper run --server uvicorn      # uvicorn (ASGI)
    """
    settings = settings_from(config_name, given)
    values = dict(settings.values)
    if share:
        if settings.sources["host"] == "default":
            values["host"] = "0.0.0.0"
        elif values["host"] in ("127.0.0.1", "localhost", "::1"):
            raise click.UsageError("--share needs a host other devices can reach: drop -h/--host or use 0.0.0.0")
    server, interface, reload, workers = values["server"], values["interface"], values["reload"], values["workers"]
    if server == "uvicorn":
        if interface == "rsgi":
            raise click.UsageError("uvicorn only speaks ASGI; use --interface asgi or --server granian")
        interface = "asgi"
        if values["threads"] != 1:
            click.echo("gobstopper: --threads is ignored by uvicorn", err=True)
    interface = interface or "rsgi"
    if reload and importlib.util.find_spec("watchfiles") is None:
        raise click.UsageError("--reload needs watchfiles: pip install 'gobstopper[cli]'")
    if reload and workers > 1 and server == "uvicorn":
        click.echo("gobstopper: uvicorn runs one process under --reload; --workers is ignored", err=True)

    try:
        config = ServeConfig(
            target=serve.normalize_target(values["app"]),
            host=values["host"],
            port=values["port"],
            workers=workers,
            threads=values["threads"],
            interface=interface,
            server=server,
            reload=reload,
            log_level=values["log_level"],
            access_log=values["access_log"],
            working_dir=Path.cwd(),
            reload_paths=tuple(values["reload_paths"]),
            watch_files=(str(settings.config_file),) if settings.config_file else (),
        )
        serve.ensure_importable(config)
    except TargetError as exc:
        raise click.UsageError(str(exc)) from exc

    if share:
        from gobstopper.cli.share import banner, share_url

        click.echo(banner(share_url(config.port)), err=True)
    launch = serve.run_granian if server == "granian" else serve.run_uvicorn
    try:
        launch(config)
    except TargetError as exc:  # a server that is not installed
        raise click.UsageError(str(exc)) from exc


@cli.group("config", context_settings=CONTEXT_SETTINGS)
def config_group() -> None:
    """Inspect the settings `gobstopper run` would use."""


@config_group.command("show", context_settings=CONTEXT_SETTINGS)
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {name: {value, source}}.")
def config_show(config_name: str | None, as_json: bool, **given: Any) -> None:
    """Print the effective `gobstopper run` settings and where each came from (default, file, env or flag)."""
    settings = settings_from(config_name, given)
    if as_json:
        import json

        data = {name: {"value": settings.values[name], "source": settings.sources[name]} for name in KEYS}
        click.echo(json.dumps(data, indent=2, default=list))
        return
    if settings.config_file:
        click.echo(f"# config file: {settings.config_file}")
    for name in KEYS:
        value = settings.values[name]
        shown = ", ".join(value) if isinstance(value, (list, tuple)) else value
        shown = "(auto)" if value is None else shown
        click.echo(f"{name:<13} {str(shown):<24} {settings.sources[name]}")


# -- routes and version --------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("app", required=False, metavar="[MODULE:APP]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per route.")
def routes(app: str | None, as_json: bool) -> None:
    """List the app's routes (from app.route_table), mounted apps' included."""
    from gobstopper.cli.routing import route_rows

    try:
        application = load_app(app)
    except TargetError as exc:
        raise click.UsageError(str(exc)) from exc
    rows = route_rows(application)
    if as_json:
        import json

        for row in rows:
            click.echo(json.dumps(row))
        return
    headers = ("METHODS", "PATH", "NAME", "HANDLER", "BLUEPRINT")
    table = [headers] + [
        (",".join(r["methods"]) or "WS", r["path"], r["name"], r["handler"], r["blueprint"] or "-") for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    for row in table:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def version(as_json: bool) -> None:
    """Print the Gobstopper version, Python, the servers, the native extension and the optional features."""
    from gobstopper.cli.inspect import environment_report

    report = environment_report(get_version())
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Gobstopper v{report['gobstopper']}")
    click.echo(f"Python {report['python']} ({report['implementation']}, {report['platform']})")
    for name, value in report["servers"].items():
        click.echo(f"{name:<10} {value}")
    click.echo(f"native     {report['native']}")
    click.echo("features:")
    for feature, info in report["features"].items():
        click.echo(f"  {feature:<16} {info}")


# -- the rest: project generation, tasks, events, the deploy check (self-contained modules, registered here) ----

from gobstopper.cli import check as _check_cli  # noqa: E402
from gobstopper.cli import events as _events_cli  # noqa: E402
from gobstopper.cli import scaffold as _scaffold_cli  # noqa: E402
from gobstopper.cli import tasks as _tasks_cli  # noqa: E402

for _command in (*_scaffold_cli.COMMANDS, *_tasks_cli.COMMANDS, *_events_cli.COMMANDS, *_check_cli.COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the ``gobstopper`` command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.
    """
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="gobstopper")


if __name__ == "__main__":
    main()
