"""The settings of ``gobstopper run``: defaults, then a config file, then ``GOBSTOPPER_*`` variables, then flags.

Each later source overrides the earlier ones, one key at a time, and every effective value remembers where it came
from (``gobstopper config show`` prints both). The config file is the reference's: ``--config NAME`` loads
``NAME.json`` or ``NAME.toml`` from the current directory (a path with one of those suffixes works too) with the
keys ``app``, ``host``, ``port``, ``workers``, ``threads``, ``reload`` and this project's ``server``,
``interface``, ``log_level``, ``access_log``, ``reload_paths``. An unknown key or a value of the wrong type is an
error naming the file and the key, never silently ignored.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._env import parse_bool, parse_int, parse_list

INTERFACES = ("rsgi", "asgi")
SERVERS = ("granian", "uvicorn")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class ConfigError(ValueError):
    """A config file, environment variable or value is unusable; the message names it."""


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _port(text: str) -> int:
    value = parse_int(text)
    if not 0 <= value <= 65535:
        raise ValueError("expected a port between 0 and 65535")
    return value


def _positive(text: str) -> int:
    value = parse_int(text)
    if value < 1:
        raise ValueError("expected an integer >= 1")
    return value


@dataclass(frozen=True)
class Key:
    """One setting: its default, how its text form parses, and the Python type a config file must give."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    kind: type | tuple[type, ...]
    help: str

    @property
    def env(self) -> str:
        """The environment variable that sets it (``GOBSTOPPER_PORT``)."""
        return "GOBSTOPPER_" + self.name.upper()

    @property
    def flag(self) -> str:
        """The ``gobstopper run`` flag that sets it (``--log-level``)."""
        return "--" + self.name.replace("_", "-")


KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key("app", "app:app", str, str, "the app to serve, module:attribute"),
        Key("host", "127.0.0.1", str, str, "address to bind"),
        Key("port", 8000, _port, int, "port to bind"),
        Key("workers", 1, _positive, int, "worker processes"),
        Key("threads", 1, _positive, int, "runtime threads per worker (Granian)"),
        Key("reload", False, parse_bool, bool, "restart on code and config changes"),
        Key("server", "granian", _choice(SERVERS), str, "granian or uvicorn"),
        Key("interface", None, _choice(INTERFACES), str, "rsgi or asgi (default: rsgi with granian)"),
        Key("log_level", "info", _choice(LOG_LEVELS), str, "server log level"),
        Key("access_log", False, parse_bool, bool, "log every request"),
        Key("reload_paths", (), parse_list, (list, tuple), "extra files or folders --reload watches"),
    )
}


@dataclass(frozen=True)
class RunSettings:
    """The effective settings of ``gobstopper run`` and where each came from.

    Attributes:
        values: setting name -> value (every key of :data:`KEYS`).
        sources: setting name -> ``"default"``, ``"file dev.toml"``, ``"env GOBSTOPPER_PORT"`` or ``"flag --port"``.
        config_file: the config file read, if any.
    """

    values: dict[str, Any]
    sources: dict[str, str]
    config_file: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def find_config_file(name: str, directory: Path) -> Path:
    """The file ``--config NAME`` means: ``NAME`` itself if it ends in ``.json``/``.toml``, else ``NAME.json`` or
    ``NAME.toml`` in ``directory``.

    Raises:
        ConfigError: no such file, or both ``NAME.json`` and ``NAME.toml`` exist.
    """
    given = Path(name)
    if given.suffix in (".json", ".toml"):
        path = given if given.is_absolute() else directory / given
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    found = [path for path in (directory / f"{name}.json", directory / f"{name}.toml") if path.is_file()]
    if not found:
        raise ConfigError(f"no config file {name}.json or {name}.toml in {directory}")
    if len(found) > 1:
        raise ConfigError(f"both {found[0].name} and {found[1].name} exist in {directory}: pass one with its suffix")
    return found[0]


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings a JSON or TOML config file holds, type-checked.

    Raises:
        ConfigError: the file cannot be read or parsed, is not a table/object, has an unknown key or a value of the
            wrong type (the message names the file and the key).
    """
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold an object of settings, not {type(data).__name__}")
    settings: dict[str, Any] = {}
    for name, value in data.items():
        key = KEYS.get(name)
        if key is None:
            raise ConfigError(f"config file {path}: unknown key {name!r} (known: {', '.join(KEYS)})")
        # bool is an int in Python: a port of `true` is still wrong.
        wrong_bool = isinstance(value, bool) and key.kind is not bool
        if wrong_bool or not isinstance(value, key.kind):
            raise ConfigError(f"config file {path}: {name} = {value!r} is not a {_kind_name(key.kind)}")
        if key.kind is str or key.kind is int:
            try:
                value = key.parse(str(value))
            except ValueError as exc:
                raise ConfigError(f"config file {path}: {name} = {value!r}: {exc}") from None
        if name == "reload_paths":
            if not all(isinstance(item, str) for item in value):
                raise ConfigError(f"config file {path}: reload_paths must be a list of strings")
            value = tuple(value)
        settings[name] = value
    return settings


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return "list"
    return {str: "string", int: "integer", bool: "boolean (true/false)"}.get(kind, kind.__name__)


def resolve(
    flags: Mapping[str, Any],
    config: str | None = None,
    environ: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> RunSettings:
    """Merge the sources: defaults < config file < ``GOBSTOPPER_*`` environment < flags given on the command line.

    Args:
        flags: the settings given as command-line flags (only those the user typed).
        config: the ``--config`` NAME, if any (``GOBSTOPPER_CONFIG`` when None).
        environ: the environment (``os.environ`` when None).
        directory: where config files are looked up (the current directory when None).

    Raises:
        ConfigError: an unusable config file or environment variable.
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if directory is None else directory
    values = {name: key.default for name, key in KEYS.items()}
    sources = dict.fromkeys(KEYS, "default")
    config_file = None
    config = config or environ.get("GOBSTOPPER_CONFIG", "").strip() or None
    if config:
        config_file = find_config_file(config, directory)
        for name, value in read_config_file(config_file).items():
            values[name] = value
            sources[name] = f"file {config_file.name}"
    for name, key in KEYS.items():
        raw = environ.get(key.env, "").strip()
        if not raw:
            continue
        try:
            values[name] = key.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"environment variable {key.env}={raw!r}: {exc}") from None
        sources[name] = f"env {key.env}"
    for name, value in flags.items():
        values[name] = value
        sources[name] = "argument APP" if name == "app" else f"flag {KEYS[name].flag}"
    return RunSettings(values, sources, config_file)
