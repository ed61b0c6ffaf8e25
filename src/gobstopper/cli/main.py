"""The ``gobstopper`` command: a click group with ``run`` and ``version``.

``-h`` is ``--host`` (as in the reference CLI), so help is ``--help`` only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from gobstopper.cli import serve
from gobstopper.cli.serve import INTERFACES, LOG_LEVELS, SERVERS, ServeConfig, TargetError

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}


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


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Not click.version_option: that raises RuntimeError when the package metadata is missing.
    if value and not ctx.resilient_parsing:
        click.echo(f"Gobstopper v{get_version()}")
        ctx.exit()


@click.group(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Gobstopper: a Flask-like async web framework for Granian RSGI and ASGI."""


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("app", default="app:app", metavar="[MODULE:APP]")
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("-p", "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("-w", "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option(
    "-t",
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runtime threads per worker (Granian only).",
)
@click.option(
    "--interface",
    type=click.Choice(INTERFACES),
    default=None,
    help="Protocol between server and app. [default: rsgi with granian; uvicorn is always asgi]",
)
@click.option("--server", type=click.Choice(SERVERS), default="granian", show_default=True, help="Server to run.")
@click.option("--reload/--no-reload", default=False, show_default=True, help="Restart on file changes (dev).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True, help="Server log level.")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def run(
    app: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    interface: str | None,
    server: str,
    reload: bool,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve MODULE:APP (default app:app) from the current directory.

    \b
    Examples:
      gobstopper run                       # app:app on http://127.0.0.1:8000 (granian, RSGI)
      gobstopper run hello:app --reload    # restart when files change
      gobstopper run -w 4 -p 8080          # four worker processes
      gobstopper run --server uvicorn      # uvicorn (ASGI)
    """
    if server == "uvicorn":
        if interface == "rsgi":
            raise click.UsageError("uvicorn only speaks ASGI; use --interface asgi or --server granian")
        interface = "asgi"
        if threads != 1:
            click.echo("gobstopper: --threads is ignored by uvicorn", err=True)
    interface = interface or "rsgi"
    if reload and server == "granian" and importlib.util.find_spec("watchfiles") is None:
        raise click.UsageError("--reload with granian needs watchfiles: pip install 'gobstopper[cli]'")
    if reload and workers > 1 and server == "uvicorn":
        click.echo("gobstopper: uvicorn runs one process under --reload; --workers is ignored", err=True)

    try:
        config = ServeConfig(
            target=serve.normalize_target(app),
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            interface=interface,
            server=server,
            reload=reload,
            log_level=log_level,
            access_log=access_log,
            working_dir=Path.cwd(),
        )
        serve.ensure_importable(config)
    except TargetError as exc:
        raise click.UsageError(str(exc)) from exc

    launch = serve.run_granian if server == "granian" else serve.run_uvicorn
    try:
        launch(config)
    except TargetError as exc:  # a server that is not installed
        raise click.UsageError(str(exc)) from exc


@cli.command(context_settings=CONTEXT_SETTINGS)
def version() -> None:
    """Print the Gobstopper version."""
    click.echo(f"Gobstopper v{get_version()}")


# Background tasks, events and the deploy check (docs/tasks.md, docs/events.md, docs/deployment.md):
# self-contained modules, registered here.
from gobstopper.cli import check as _check_cli  # noqa: E402
from gobstopper.cli import events as _events_cli  # noqa: E402
from gobstopper.cli import tasks as _tasks_cli  # noqa: E402

for _command in (*_tasks_cli.COMMANDS, *_events_cli.COMMANDS, *_check_cli.COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the ``gobstopper`` command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.
    """
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="gobstopper")


if __name__ == "__main__":
    main()
