"""What ``gobstopper run --reload`` watches: which changed files restart the workers and which never do.

Rules (the same under Granian, whose reloader takes a watchfiles filter class, and uvicorn, which takes glob
patterns):

1. Python files (``*.py``), ``.env`` / ``.env.*`` and config files (``*.toml``, ``*.ini``, ``*.cfg``, ``*.yaml``,
   ``*.yml``, the ``--config`` file and any ``reload_paths`` file) restart the workers.
2. Templates do not restart anything: ``--reload`` turns on the template engine's ``auto_reload``
   (``GOBSTOPPER_TEMPLATES_AUTO_RELOAD=1`` in the workers), so an edited template is served by the next request,
   with no restart and no dropped connection.
3. Never watched: virtualenvs (``.venv``, ``venv``, ``env`` and any folder holding a ``pyvenv.cfg``), version
   control (``.git``, ``.hg``, ``.svn``), caches (``__pycache__``, ``.mypy_cache``, ``.pytest_cache``,
   ``.ruff_cache``, ``.hypothesis``, ``node_modules``), database files (``*.db``, ``*.sqlite``, ``*.sqlite3``,
   ``*.duckdb`` and their ``-journal``/``-wal``/``-shm``/``.wal`` companions) and logs (``*.log``, ``*.log.N``,
   ``logs/``), so an app that writes its own files does not restart itself in a loop.
4. A broken edit (a syntax error) shows the error in the server log; the watcher keeps running and the next good
   edit starts the workers again.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Suffixes of files whose change restarts the workers.
WATCHED_SUFFIXES = (".py", ".toml", ".ini", ".cfg", ".yaml", ".yml")
#: Folder names never watched.
IGNORED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".tox", ".nox", "node_modules",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "site-packages", "logs", "test-artifacts",
    }
)  # fmt: skip
#: File names never watched (database files and their journals, logs, editor droppings).
IGNORED_NAMES = re.compile(
    r"(\.(db|sqlite|sqlite3|duckdb)(-journal|-wal|-shm|\.wal)?|\.log(\.\d+)?|\.py[cod]|~|\.sw.)$|^\.#"
)
#: Environment variable ``--reload`` sets in the workers so templates are re-read when they change.
TEMPLATES_AUTO_RELOAD_ENV = "GOBSTOPPER_TEMPLATES_AUTO_RELOAD"


def _is_env_file(name: str) -> bool:
    return name == ".env" or name.startswith(".env.")


@functools.lru_cache(maxsize=4096)
def _is_virtualenv(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


def restarts(path: str | os.PathLike[str], extra_files: Iterable[str] = ()) -> bool:
    """Whether a change to ``path`` (absolute) restarts the workers (see the module's rules).

    Args:
        path: the changed file.
        extra_files: absolute paths that always restart (the config file, ``reload_paths`` files).
    """
    text = os.fspath(path)
    if text in extra_files:
        return True
    parts = Path(text).parts
    if any(part in IGNORED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1] if parts else ""
    if IGNORED_NAMES.search(name):
        return False
    if not (name.endswith(WATCHED_SUFFIXES) or _is_env_file(name)):
        return False
    directory = os.path.dirname(text)
    while directory and directory != os.path.dirname(directory):
        if _is_virtualenv(directory):
            return False
        directory = os.path.dirname(directory)
    return True


def granian_filter(extra_files: Iterable[str] = ()) -> type[Any]:
    """A watchfiles filter class for Granian's ``reload_filter`` (Granian instantiates it itself)."""
    from watchfiles import DefaultFilter

    extra = frozenset(extra_files)

    class GobstopperFilter(DefaultFilter):
        ignore_dirs = tuple(IGNORED_DIRS)

        def __call__(self, change: Any, path: str) -> bool:
            return restarts(path, extra)

    return GobstopperFilter


def uvicorn_patterns(working_dir: Path, extra_files: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """``(reload_includes, reload_excludes)`` for uvicorn: the watched patterns, and the ignored folders of
    ``working_dir`` (its top two levels) as absolute paths, which is how uvicorn's filter excludes a folder."""
    includes = [f"*{suffix}" for suffix in WATCHED_SUFFIXES] + [".env", ".env.*"]
    includes += [Path(file).name for file in extra_files]
    excludes: list[str] = []
    for depth_glob in ("*", "*/*"):
        for candidate in working_dir.glob(depth_glob):
            if candidate.is_dir() and (candidate.name in IGNORED_DIRS or _is_virtualenv(str(candidate))):
                excludes.append(str(candidate.resolve()))
    return sorted(set(includes)), sorted(set(excludes))
