"""Tests for the ``gobstopper`` command line (gobstopper.cli)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gobstopper.cli import main as cli_main
from gobstopper.cli import serve
from gobstopper.cli.serve import ServeConfig
from gobstopper.websocket._settings import MAX_WS_MESSAGE_BYTES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


# --------------------------------------------------------------------------------------- option parsing


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``app.py`` and ``hello.py``; sys.path is restored afterwards."""
    (tmp_path / "app.py").write_text("app = object()\n")
    (tmp_path / "hello.py").write_text("app = object()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ServeConfig]]:
    """Replace both launchers; each call is recorded as (server, config)."""
    calls: list[tuple[str, ServeConfig]] = []
    monkeypatch.setattr(serve, "run_granian", lambda config: calls.append(("granian", config)))
    monkeypatch.setattr(serve, "run_uvicorn", lambda config: calls.append(("uvicorn", config)))
    return calls


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli_main.cli, list(args), catch_exceptions=False)


def test_run_defaults(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert launched == [
        (
            "granian",
            ServeConfig(
                target="app:app",
                host="127.0.0.1",
                port=8000,
                workers=1,
                threads=1,
                interface="rsgi",
                server="granian",
                reload=False,
                log_level="info",
                access_log=False,
                working_dir=app_dir,
            ),
        )
    ]
    assert str(app_dir.resolve()) in sys.path


def test_run_all_options(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke(
        "run", "hello:app", "-h", "0.0.0.0", "-p", "9001", "-w", "3", "-t", "2", "--interface", "asgi",
        "--reload", "--log-level", "debug", "--access-log",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(server, config)] = launched
    assert server == "granian"
    assert (config.target, config.host, config.port, config.workers, config.threads) == (
        "hello:app",
        "0.0.0.0",
        9001,
        3,
        2,
    )
    assert (config.interface, config.reload, config.log_level, config.access_log) == ("asgi", True, "debug", True)


def test_run_long_option_names(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke("run", "--host", "::1", "--port", "0", "--workers", "2", "--threads", "4", "--no-reload")
    assert result.exit_code == 0, result.output
    [(_, config)] = launched
    assert (config.host, config.port, config.workers, config.threads, config.reload) == ("::1", 0, 2, 4, False)


def test_run_uvicorn_is_asgi(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke("run", "hello:app", "--server", "uvicorn", "--reload")
    assert result.exit_code == 0, result.output
    [(server, config)] = launched
    assert server == "uvicorn"
    assert (config.interface, config.reload, config.target) == ("asgi", True, "hello:app")


def test_run_uvicorn_rejects_rsgi(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke("run", "--server", "uvicorn", "--interface", "rsgi")
    assert result.exit_code == 2
    assert "uvicorn only speaks ASGI" in result.output
    assert launched == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interface", "wsgi"], "Invalid value for '--interface'"),
        (["--server", "hypercorn"], "Invalid value for '--server'"),
        (["-p", "70000"], "Invalid value for '-p'"),
        (["-w", "0"], "Invalid value for '-w'"),
        (["--log-level", "loud"], "Invalid value for '--log-level'"),
        (["missing:app"], "cannot find module 'missing'"),
        (["bad name:app"], "invalid app"),
        (["hello:"], "invalid app"),
    ],
)
def test_run_rejects_bad_options(
    app_dir: Path, launched: list[tuple[str, ServeConfig]], args: list[str], message: str
) -> None:
    result = invoke("run", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert launched == []


def test_h_is_host_and_help_is_long_only(app_dir: Path, launched: list[tuple[str, ServeConfig]]) -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "-h, --host" in result.output
    assert "--reload / --no-reload" in result.output
    assert launched == []
    assert invoke("-h").exit_code == 2


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("app", "app:app"), ("hello:app", "hello:app"), ("pkg.mod:api", "pkg.mod:api"), ("pkg/mod.py:api", "pkg.mod:api")],
)
def test_normalize_target(raw: str, normalized: str) -> None:
    assert serve.normalize_target(raw) == normalized


def test_version_command_and_option() -> None:
    for args in (["version"], ["--version"]):
        result = invoke(*args)
        assert result.exit_code == 0
        assert result.output.startswith("Gobstopper v")
        assert result.output.strip() != "Gobstopper vunknown"


def test_run_granian_passes_api_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import granian.server

    created: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class FakeServer:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            created.append((args, kwargs))

        def serve(self) -> None:
            created.append((("served",), {}))

    monkeypatch.setattr(granian.server, "Server", FakeServer)
    monkeypatch.setenv("GOBSTOPPER_TEMPLATES_AUTO_RELOAD", "0")  # restored afterwards: reload sets it for the workers
    config = ServeConfig(target="hello:app", port=9100, workers=2, threads=3, reload=True, working_dir=tmp_path)
    serve.run_granian(config)
    (args, kwargs), served = created
    assert args == ("hello:app",)
    assert served == (("served",), {})
    assert kwargs["address"] == "127.0.0.1"
    assert kwargs["port"] == 9100
    assert kwargs["interface"] == "rsgi"
    assert kwargs["workers"] == 2
    assert kwargs["runtime_threads"] == 3
    assert kwargs["respawn_failed_workers"] is True
    assert kwargs["reload"] is True
    assert kwargs["reload_paths"] == [tmp_path.resolve()]
    assert kwargs["working_dir"] == tmp_path.resolve()
    assert kwargs["log_level"] == "info"
    assert kwargs["log_access"] is False


def test_run_uvicorn_passes_api_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    serve.run_uvicorn(
        ServeConfig(target="hello:app", server="uvicorn", interface="asgi", workers=4, working_dir=tmp_path)
    )
    [(args, kwargs)] = calls
    assert args == ("hello:app",)
    assert kwargs["host"] == "127.0.0.1"
    assert kwargs["port"] == 8000
    assert kwargs["workers"] == 4
    assert kwargs["reload"] is False
    assert kwargs["lifespan"] == "on"
    assert kwargs["app_dir"] == str(tmp_path.resolve())
    assert kwargs["ws_max_size"] == MAX_WS_MESSAGE_BYTES  # uvicorn buffers no more of a message than the app accepts
    assert kwargs["proxy_headers"] is False  # app.trusted_proxies is the only proxy policy
    # The slow-client limits uvicorn offers (it has no header or body timeout: docs/deployment.md).
    assert (kwargs["timeout_keep_alive"], kwargs["limit_concurrency"]) == (5, 1000)
    assert kwargs["timeout_graceful_shutdown"] == 10  # the app's shutdown budget
    monkeypatch.setenv("GOBSTOPPER_SHUTDOWN_TIMEOUT", "2.5")
    serve.run_uvicorn(ServeConfig(target="hello:app", server="uvicorn", interface="asgi", working_dir=tmp_path))
    assert calls[-1][1]["timeout_graceful_shutdown"] == 3


# ------------------------------------------------------------------------------------------ real servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the CLI by pid, then SIGKILL it and anything left in its process group."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m gobstopper run ...`` in a directory; wait until it answers; stop it afterwards."""
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(cwd: Path, *args: str, path: str = "/") -> tuple[int, subprocess.Popen[bytes], Path]:
        port = free_port()
        log_path = tmp_path / f"server-{len(started)}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "gobstopper", "run", *args, "--port", str(port)],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append((process, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"server exited:\n{log_path.read_text()}"
            try:
                get(f"http://127.0.0.1:{port}{path}")
                return port, process, log_path
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"server did not answer:\n{log_path.read_text()}")

    yield start
    for process, log in started:
        stop(process)
        log.close()


SERVER_ARGS = {
    "granian-rsgi": [],
    "granian-asgi": ["--interface", "asgi"],
    "uvicorn": ["--server", "uvicorn"],
}


@pytest.mark.servers
@pytest.mark.parametrize("server", list(SERVER_ARGS))
def test_run_serves_hello_example(start_cli: Any, server: str) -> None:
    port, process, log_path = start_cli(EXAMPLES, "hello:app", *SERVER_ARGS[server])
    status, body = get(f"http://127.0.0.1:{port}/")
    assert status == 200, log_path.read_text()
    assert json.loads(body) == {"message": "Hello from Gobstopper!"}
    status, body = get(f"http://127.0.0.1:{port}/users/42")
    assert status == 200
    assert json.loads(body) == {"user_id": "42", "name": "User 42"}
    stop(process)
    assert process.returncode is not None


PROXY_APP = """
from gobstopper import Gobstopper

app = Gobstopper(__name__)
app.trusted_proxies = {trusted!r}


@app.get("/")
async def who(request):
    return {{"client_ip": request.client_ip, "scheme": request.scheme}}
"""


@pytest.mark.servers
@pytest.mark.parametrize("server", list(SERVER_ARGS))
@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ([], {"client_ip": "127.0.0.1", "scheme": "http"}),  # uvicorn alone would believe 127.0.0.1
        (["127.0.0.1"], {"client_ip": "203.0.113.9", "scheme": "https"}),
    ],
    ids=["untrusted", "trusted"],
)
def test_run_leaves_forwarded_headers_to_trusted_proxies(
    start_cli: Any, tmp_path: Path, server: str, trusted: list[str], expected: dict[str, str]
) -> None:
    """Issue 11 item 9: ``gobstopper run`` never lets the server apply a proxy policy of its own."""
    project = tmp_path / "proxy_project"
    project.mkdir()
    (project / "proxyapp.py").write_text(PROXY_APP.format(trusted=trusted))
    port, _, log_path = start_cli(project, "proxyapp:app", *SERVER_ARGS[server])
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == expected, log_path.read_text()


RELOAD_APP = """
VERSION = b"{version}"


class App:
    async def __rsgi__(self, scope, proto):
        proto.response_bytes(200, [("content-type", "text/plain")], VERSION)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({{"type": message["type"] + ".complete"}})
                if message["type"] == "lifespan.shutdown":
                    return
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
        await send({{"type": "http.response.body", "body": VERSION}})


app = App()
"""


@pytest.mark.servers
@pytest.mark.parametrize("server", ["granian-rsgi", "uvicorn"])
def test_reload_picks_up_changes(start_cli: Any, tmp_path: Path, server: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = project / "app.py"
    source.write_text(RELOAD_APP.format(version="one"))
    port, _, log_path = start_cli(project, "--reload", *SERVER_ARGS[server])
    assert get(f"http://127.0.0.1:{port}/") == (200, b"one")
    time.sleep(0.5)  # let the watcher settle before the change
    source.write_text(RELOAD_APP.format(version="two"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(f"http://127.0.0.1:{port}/") == (200, b"two"):
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"no reload:\n{log_path.read_text()}")


def test_run_uvicorn_without_uvicorn_names_the_extra(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # what an install without the extra looks like to `import`
    result = CliRunner().invoke(cli_main.cli, ["run", "app:app", "--server", "uvicorn"])
    assert result.exit_code == 2, result.output
    assert "pip install 'gobstopper[uvicorn]'" in result.output


def test_the_core_dependencies_are_what_the_core_imports() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {re.split(r"[<>=\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert required == {"granian", "starlette", "msgspec", "anyio", "click", "python-multipart"}
    extras = project["optional-dependencies"]
    assert any(dep.startswith("uvicorn") for dep in extras["uvicorn"])
    assert {dep.split(">")[0] for dep in extras["testing"]} == {"httpx", "httpx2"}
    assert "uvicorn" in extras["all"][0] and "testing" in extras["all"][0]
    assert any("uvicorn" in dep and "testing" in dep for dep in extras["dev"])
