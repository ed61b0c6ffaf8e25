"""Start a server (Granian or uvicorn) for an app given as an import string.

The launchers here are what ``gobstopper run`` calls once the options are parsed. They take a
:class:`ServeConfig` so tests can replace them and inspect exactly what would have been started.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

INTERFACES = ("rsgi", "asgi")
SERVERS = ("granian", "uvicorn")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class TargetError(ValueError):
    """The ``module:attribute`` target is malformed or its module cannot be found."""


@dataclass(frozen=True)
class ServeConfig:
    """Everything needed to start one server.

    Attributes:
        target: Import string ``module:attribute`` (normalised, see :func:`normalize_target`).
        host: Address to bind.
        port: TCP port to bind.
        workers: Number of worker processes.
        threads: Runtime threads per worker (Granian only).
        interface: ``"rsgi"`` or ``"asgi"``; uvicorn always speaks ASGI.
        server: ``"granian"`` or ``"uvicorn"``.
        reload: Restart workers when files under ``working_dir`` change.
        log_level: One of :data:`LOG_LEVELS`.
        access_log: Log one line per request.
        working_dir: Directory that is put first on ``sys.path`` so the target can be imported.
    """

    target: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 1
    interface: str = "rsgi"
    server: str = "granian"
    reload: bool = False
    log_level: str = "info"
    access_log: bool = False
    working_dir: Path = field(default_factory=Path.cwd)


def normalize_target(target: str) -> str:
    """Turn what the user typed into a ``module:attribute`` import string.

    ``app`` becomes ``app:app``; ``pkg/hello.py:api`` becomes ``pkg.hello:api``.

    Args:
        target: The APP argument of ``gobstopper run``.

    Returns:
        The normalised import string.

    Raises:
        TargetError: If the module or attribute part is empty or not a dotted name.
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


def ensure_importable(config: ServeConfig) -> None:
    """Put the working directory on ``sys.path`` and check that the target's module exists.

    The module is located, not executed, so app import side effects run only in the workers.

    Args:
        config: The server configuration.

    Raises:
        TargetError: If the module cannot be found from the working directory.
    """
    wd = str(config.working_dir.resolve())
    if wd not in sys.path:
        sys.path.insert(0, wd)
    module = config.target.partition(":")[0]
    importlib.invalidate_caches()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise TargetError(f"cannot import {module!r} from {wd}: {exc}") from exc
    if spec is None:
        raise TargetError(f"cannot find module {module!r} in {wd} (run gobstopper from the app's directory)")


def run_granian(config: ServeConfig) -> None:
    """Serve the app with Granian's Python API (blocks until the server stops).

    Args:
        config: The server configuration; ``interface`` selects RSGI or ASGI (with lifespan).
    """
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    kwargs: dict[str, object] = {}
    if config.reload:
        kwargs.update(
            reload_paths=[config.working_dir.resolve()],
            # A syntax error while editing kills the worker; keep the server up until the next change.
            reload_ignore_worker_failure=True,
        )
    server = Server(
        config.target,
        address=config.host,
        port=config.port,
        interface=Interfaces(config.interface),
        workers=config.workers,
        runtime_threads=config.threads,
        respawn_failed_workers=True,
        reload=config.reload,
        log_level=LogLevels(config.log_level),
        log_access=config.access_log,
        working_dir=config.working_dir.resolve(),
        **kwargs,  # type: ignore[arg-type]
    )
    server.serve()


#: Limits ``gobstopper run --server uvicorn`` sets, uvicorn having no header-read or body timeout of its own
#: (``docs/deployment.md``, "Slow clients"): idle keep-alive connections close after this many seconds ...
UVICORN_KEEP_ALIVE_TIMEOUT = 5
#: ... and past this many open connections and tasks per worker new requests get 503 at once, so slow clients
#: cannot pile up without bound (a proxy in front is still needed against slow headers).
UVICORN_LIMIT_CONCURRENCY = 1000


def uvicorn_limits() -> dict[str, object]:
    """The slow-client and shutdown limits passed to uvicorn (the keyword arguments of ``uvicorn.run``).

    ``timeout_graceful_shutdown`` is the app's shutdown budget (``GOBSTOPPER_SHUTDOWN_TIMEOUT``, 10 s): without it
    uvicorn waits for every connection at shutdown, a slow one included.
    """
    from .._env import parse_float, read_env

    budget = read_env("GOBSTOPPER_SHUTDOWN_TIMEOUT", parse_float, 10.0)
    return {
        "timeout_keep_alive": UVICORN_KEEP_ALIVE_TIMEOUT,
        "limit_concurrency": UVICORN_LIMIT_CONCURRENCY,
        "timeout_graceful_shutdown": max(1, math.ceil(budget)),
    }


def run_uvicorn(config: ServeConfig) -> None:
    """Serve the app with uvicorn over ASGI, lifespan on (blocks until the server stops), with the limits of
    :func:`uvicorn_limits`.

    uvicorn's own proxy-header handling is off: ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from
    ``app.trusted_proxies`` (docs/deployment.md). Granian has no such handling of its own.

    Args:
        config: The server configuration; ``threads`` and ``interface`` are not used.
    """
    try:
        import uvicorn
    except ImportError:
        raise TargetError("uvicorn is not installed: pip install 'gobstopper[uvicorn]'") from None

    from ..websocket._settings import MAX_WS_MESSAGE_BYTES

    wd = str(config.working_dir.resolve())
    uvicorn.run(
        config.target,
        host=config.host,
        port=config.port,
        workers=None if config.reload else config.workers,
        reload=config.reload,
        reload_dirs=[wd] if config.reload else None,
        lifespan="on",
        log_level=config.log_level,
        access_log=config.access_log,
        app_dir=wd,
        server_header=False,  # no "server: uvicorn": the app decides (SecurityMiddleware sends none by default)
        # uvicorn would otherwise believe X-Forwarded-For/-Proto from FORWARDED_ALLOW_IPS (127.0.0.1 by default)
        # and rewrite the client and scheme before the app sees them: app.trusted_proxies is the only policy.
        proxy_headers=False,
        # uvicorn assembles fragmented and compressed messages before the app sees them, up to its own 16 MiB
        # default: cap that at the framework's limit so a message never fragments its way past it in memory.
        ws_max_size=MAX_WS_MESSAGE_BYTES,
        **uvicorn_limits(),  # type: ignore[arg-type]
    )
