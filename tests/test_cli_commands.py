"""The ``gobstopper`` commands beyond ``run``'s basics: settings sources, config show, --share, the reload filter,
routes, version, extension command groups, app discovery, generate and interactive init (click's runner)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gobstopper.cli import main as cli_main
from gobstopper.cli import serve
from gobstopper.cli.config import ConfigError, resolve
from gobstopper.cli.reload import granian_filter, restarts, uvicorn_patterns
from gobstopper.cli.serve import ServeConfig


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with ``app.py``; no GOBSTOPPER_* variable leaks in; sys.path and modules restored."""
    for name in ("APP", "HOST", "PORT", "WORKERS", "THREADS", "RELOAD", "SERVER", "INTERFACE", "LOG_LEVEL",
                 "ACCESS_LOG", "RELOAD_PATHS", "CONFIG", "MISSION_CONTROL_TOKEN"):  # fmt: skip
        monkeypatch.delenv(f"GOBSTOPPER_{name}", raising=False)
    (tmp_path / "app.py").write_text("app = object()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    # sys.modules itself stays (the import system holds that very dict): the modules imported from the project
    # are removed afterwards instead.
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[ServeConfig]:
    calls: list[ServeConfig] = []
    monkeypatch.setattr(serve, "run_granian", calls.append)
    monkeypatch.setattr(serve, "run_uvicorn", calls.append)
    return calls


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    return CliRunner().invoke(cli_main.cli, list(args), env=env, input=input, catch_exceptions=False)


# -- settings: defaults < file < environment < flags ------------------------------------------------------------


def test_config_file_then_environment_then_flags(project: Path, launched: list[ServeConfig]) -> None:
    (project / "production.toml").write_text(
        'app = "app:app"\nhost = "0.0.0.0"\nport = 8080\nworkers = 4\nthreads = 2\nreload = false\n'
    )
    result = invoke("run", "--config", "production", "-w", "8", env={"GOBSTOPPER_PORT": "9090"})
    assert result.exit_code == 0, result.output
    [config] = launched
    assert (config.host, config.port, config.workers, config.threads, config.reload) == ("0.0.0.0", 9090, 8, 2, False)


def test_json_config_and_reload_watch_the_file(project: Path, launched: list[ServeConfig]) -> None:
    (project / "dev.json").write_text(json.dumps({"port": 5001, "reload": True, "reload_paths": ["extra"]}))
    result = invoke("run", "--config", "dev")
    assert result.exit_code == 0, result.output
    [config] = launched
    assert (config.port, config.reload, config.reload_paths) == (5001, True, ("extra",))
    assert config.watch_files == (str(project / "dev.json"),)


def test_config_show_names_every_source(project: Path) -> None:
    (project / "dev.toml").write_text("port = 7000\nworkers = 3\n")
    result = invoke("config", "show", "--config", "dev", "--workers", "5", env={"GOBSTOPPER_HOST": "0.0.0.0"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if not line.startswith("#")}
    assert lines["port"].split()[1:] == ["7000", "file", "dev.toml"]
    assert lines["host"].split()[1:] == ["0.0.0.0", "env", "GOBSTOPPER_HOST"]
    assert lines["workers"].split()[1:] == ["5", "flag", "--workers"]
    assert lines["threads"].split()[1:] == ["1", "default"]
    data = json.loads(invoke("config", "show", "--json", "myapp:api").output)
    assert data["app"] == {"value": "myapp:api", "source": "argument APP"}


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["--config", "missing"], "no config file missing.json or missing.toml"),
        ({"dev.toml": "port = 1\n", "dev.json": "{}"}, ["--config", "dev"], "both dev.json and dev.toml"),
        ({"dev.toml": "prot = 1\n"}, ["--config", "dev"], "unknown key 'prot'"),
        ({"dev.toml": 'port = "eighty"\n'}, ["--config", "dev"], "port = 'eighty' is not a integer"),
        ({"dev.toml": "workers = true\n"}, ["--config", "dev"], "workers = True is not a integer"),
        ({"dev.toml": "port = 99999\n"}, ["--config", "dev"], "between 0 and 65535"),
        ({"dev.json": "[1, 2]"}, ["--config", "dev"], "must hold an object"),
        ({"dev.toml": "port = \n"}, ["--config", "dev"], "cannot read config file"),
    ],
)
def test_bad_config_files_are_clear_errors(
    project: Path, launched: list[ServeConfig], files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (project / name).write_text(text)
    result = invoke("run", *args)
    assert result.exit_code == 2
    assert message.replace("a integer", "an integer") in result.output.replace("a integer", "an integer")
    assert launched == []


def test_bad_environment_values_name_the_variable(project: Path) -> None:
    with pytest.raises(ConfigError, match="GOBSTOPPER_WORKERS='many'"):
        resolve({}, environ={"GOBSTOPPER_WORKERS": "many"}, directory=project)
    result = invoke("config", "show", env={"GOBSTOPPER_RELOAD": "maybe"})
    assert result.exit_code == 2 and "GOBSTOPPER_RELOAD" in result.output


# -- --share -------------------------------------------------------------------------------------------------------


def test_share_binds_every_interface_and_prints_url_and_qr(project: Path, launched: list[ServeConfig]) -> None:
    result = CliRunner().invoke(cli_main.cli, ["run", "--share", "-p", "8123"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [config] = launched
    assert config.host == "0.0.0.0"
    assert "sharing on your network at http://" in result.output
    assert ":8123/" in result.output
    assert "█" in result.output or "▀" in result.output  # the QR code, drawn with block characters
    refused = invoke("run", "--share", "-h", "127.0.0.1")
    assert refused.exit_code == 2 and "--share needs a host" in refused.output


# -- the reload filter ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "restart"),
    [
        ("app.py", True),
        ("pkg/views.py", True),
        (".env", True),
        (".env.local", True),
        ("pyproject.toml", True),
        ("settings.yaml", True),
        ("templates/index.html", False),  # re-read by the template engine, no restart
        ("static/app.css", False),
        (".venv/lib/python3.11/site-packages/x.py", False),
        ("venv/lib/x.py", False),
        ("custom_env/lib/x.py", False),  # a virtualenv by its pyvenv.cfg
        (".git/config", False),
        ("__pycache__/app.cpython-311.pyc", False),
        ("data.db", False),
        ("tasks.duckdb", False),
        ("tasks.duckdb.wal", False),
        ("app.sqlite3-journal", False),
        ("server.log", False),
        ("server.log.1", False),
        ("logs/today.py", False),
    ],
)
def test_what_restarts_the_workers(tmp_path: Path, relative: str, restart: bool) -> None:
    (tmp_path / "custom_env").mkdir()
    (tmp_path / "custom_env" / "pyvenv.cfg").write_text("home = /usr\n")
    path = tmp_path / relative
    assert restarts(str(path)) is restart
    assert granian_filter()()(None, str(path)) is restart


def test_config_file_always_restarts_and_uvicorn_patterns(tmp_path: Path) -> None:
    config = str(tmp_path / "dev.json")
    assert not restarts(str(tmp_path / "data.json"))
    assert restarts(config, [config])
    (tmp_path / ".venv").mkdir()
    (tmp_path / "src").mkdir()
    includes, excludes = uvicorn_patterns(tmp_path, [config])
    assert {"*.py", ".env", "*.toml", "dev.json"} <= set(includes)
    assert "*.html" not in includes
    assert excludes == [str((tmp_path / ".venv").resolve())]


def test_reload_turns_on_template_auto_reload(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import granian.server

    created: list[dict[str, Any]] = []

    class FakeServer:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            created.append(kwargs)

        def serve(self) -> None:
            pass

    monkeypatch.setattr(granian.server, "Server", FakeServer)
    monkeypatch.setenv("GOBSTOPPER_TEMPLATES_AUTO_RELOAD", "0")  # restored afterwards: run_granian sets it to 1
    (project / "conf").mkdir()
    serve.run_granian(ServeConfig(target="app:app", reload=True, working_dir=project, reload_paths=("conf", "x.cfg")))
    [kwargs] = created
    assert kwargs["reload_paths"] == [project.resolve(), (project / "conf").resolve()]
    assert kwargs["reload_filter"]()(None, str(project / "x.cfg"))
    import os

    assert os.environ["GOBSTOPPER_TEMPLATES_AUTO_RELOAD"] == "1"


# -- routes, version, extension groups, discovery -----------------------------------------------------------------

ROUTED_APP = '''
import click

from gobstopper import Blueprint, Gobstopper

app = Gobstopper(__name__)
api = Blueprint("api", url_prefix="/api")


@api.get("/users/<int:user_id>")
async def get_user(request, user_id):
    """Fetch one user."""
    return {}


@app.websocket("/ws")
async def socket(websocket):
    pass


app.register_blueprint(api)
admin = Gobstopper("admin")


@admin.post("/reset")
async def reset(request):
    return {}


app.mount("/admin", admin)


class Greeter:
    name = "greeter"
    cli = click.Group("greeter", help="Greetings from an extension.")

    def init_app(self, app):
        pass


@Greeter.cli.command()
@click.argument("who")
def hello(who):
    click.echo(f"hello {who}")


app.register_extension(Greeter())
'''


def test_routes_lists_the_route_table_and_mounts(project: Path) -> None:
    (project / "app.py").write_text(ROUTED_APP)
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "HANDLER", "BLUEPRINT"]
    assert any(line.split()[:5] == ["GET", "/api/users/<int:user_id>", "api.get_user", "app.get_user", "api"]
               for line in lines)  # fmt: skip
    assert any(line.split()[:3] == ["WS", "/ws", "socket"] for line in lines)
    assert any(line.split()[:2] == ["POST", "/admin/reset"] for line in lines)
    rows = [json.loads(line) for line in invoke("routes", "app:app", "--json").output.splitlines()]
    user = next(row for row in rows if row["name"] == "api.get_user")
    assert user["params"] == [{"name": "user_id", "convertor": "int"}]
    assert user["doc"] == "Fetch one user."


def test_extension_cli_groups_are_commands(project: Path) -> None:
    (project / "app.py").write_text(ROUTED_APP)
    assert invoke("greeter", "hello", "world").output == "hello world\n"
    (project / "app.py").rename(project / "webapp.py")
    sys.modules.pop("app", None)  # imported above; the fixture restores sys.modules afterwards
    assert invoke("--app", "webapp:app", "greeter", "hello", "you").output == "hello you\n"
    assert invoke("greeter", "hello", "env", env={"GOBSTOPPER_APP": "webapp:app"}).output == "hello env\n"
    assert "greeter" in invoke("--app", "webapp:app", "--help").output
    missing = invoke("greeter", "hello", "x")
    assert missing.exit_code == 2
    assert "No such command 'greeter'" in missing.output and "cannot find module 'app'" in missing.output


def test_version_reports_python_servers_native_and_features() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    text = result.output
    assert text.startswith("Gobstopper v") and "Python 3." in text
    assert "granian" in text and "native" in text and "features:" in text
    report = json.loads(invoke("version", "--json").output)
    assert set(report["features"]) >= {"templates", "redis", "postgres", "reload", "mission control"}
    assert report["servers"]["granian"][0].isdigit()


def test_discovery_suggests_the_apps_it_finds(project: Path, launched: list[ServeConfig]) -> None:
    (project / "app.py").unlink()
    (project / "main.py").write_text("from gobstopper import Gobstopper\n\napi = Gobstopper(__name__)\n")
    result = invoke("run")
    assert result.exit_code == 2
    assert "cannot find module 'app'" in result.output and "main:api" in result.output
    (project / "main.py").write_text("from gobstopper import Gobstopper\n\napi = Gobstopper(__name__)\n")
    # A name the module never defines is found from its source, before any server starts (no worker crash loop).
    for command in ("run", "routes"):
        missing_attr = invoke(command, "main:app")
        assert missing_attr.exit_code == 2, missing_attr.output
        assert "never defines 'app'" in missing_attr.output and "main:api" in missing_attr.output
    assert launched == []
    # Names made at run time are left to the import: the attribute check happens there, with the same hint.
    (project / "main.py").write_text(
        "from gobstopper import Gobstopper\n\napi = Gobstopper(__name__)\nglobals()['other'] = 1\n"
    )
    missing_attr = invoke("routes", "main:app")
    assert missing_attr.exit_code == 2 and "has no attribute 'app'; it defines main:api" in missing_attr.output


# -- generate and init ------------------------------------------------------------------------------------------------


def test_generated_components_pass_their_own_tests(project: Path) -> None:
    (project / "app.py").unlink()
    commands = [
        [
            "model",
            "User",
            "-f",
            "name:str",
            "-f",
            "email:str",
            "-f",
            "created_at:datetime",
            "-f",
            "is_active:bool",
            "-f",
            "nickname:str?",
        ],  # fmt: skip
        ["endpoint", "/api/users", "-m", "GET", "--auth"],
        ["endpoint", "/api/users", "-m", "POST", "--auth"],
        ["endpoint", "/api/users/<int:user_id>", "-m", "GET"],  # its own file beside /api/users
        ["endpoint", "/api/items/<int:item_id>", "-m", "PUT"],
        ["task", "process_data", "--category", "data"],
        ["task", "send_notification", "--category", "notifications"],
        ["websocket", "/ws/live", "--room-based"],
        ["websocket", "/ws/echo/<name>"],
    ]
    for args in commands:
        result = invoke("generate", *args)
        assert result.exit_code == 0, result.output
    for path in ("models/user.py", "endpoints/get_api_users.py", "endpoints/post_api_users.py",
                 "endpoints/get_api_users_user_id.py", "endpoints/put_api_items_item_id.py", "tasks/process_data.py",
                 "sockets/ws_live.py", "tests/test_model_user.py", "tests/test_ws_echo_name.py"):  # fmt: skip
        assert (project / path).is_file(), path
    again = invoke("generate", "task", "process_data")
    assert again.exit_code == 1 and "refusing to overwrite" in again.output
    (project / "conftest.py").write_text("")  # the project root on sys.path, as `gobstopper init` projects have
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "12 passed" in run.stdout


def test_generate_rejects_bad_input(project: Path) -> None:
    assert "unknown type 'money'" in invoke("generate", "model", "Thing", "-f", "price:money").output
    assert "starts with '/'" in invoke("generate", "endpoint", "api/users").output
    assert "does not make a Python name" in invoke("generate", "model", "class").output


def test_init_asks_for_what_is_missing(project: Path) -> None:
    result = invoke("init", input="shop_api\nmicroservice\nsingle\n")
    assert result.exit_code == 0, result.output
    assert "Use case" in result.output and "Structure" in result.output
    app_py = (project / "shop_api" / "app.py").read_text()
    assert '"usecase": "microservice"' in app_py and '"structure": "single"' in app_py
    again = invoke("init", "shop_api", "-u", "microservice", "-s", "single")
    assert again.exit_code == 1 and "is not empty" in again.output
