"""The compat harness: one scenario, five protocol paths, identical answers.

Paths:

- ``asgi``: :class:`gobstopper.testing.TestClient` in-process (Starlette's test client over ASGI);
- ``rsgi``: :class:`gobstopper.testing.RSGITestClient` in-process (fake Granian protocol);
- ``uvicorn``, ``granian-asgi``, ``granian-rsgi``: real servers on 127.0.0.1, started as subprocesses.

Every real server runs once per (app, server kind, ``GOBSTOPPER_NATIVE``) per session (see :class:`ServerPool`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json as _json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gobstopper.testing import RSGITestClient, TestClient, httpx  # httpx2 when installed, like Starlette

APPS_DIR = Path(__file__).resolve().parent / "apps"
#: The runnable examples are served and tested like the scenario apps (module names must not clash).
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

IN_PROCESS = ("asgi", "rsgi")
REAL_SERVERS = ("uvicorn", "granian-asgi", "granian-rsgi")
PATHS = IN_PROCESS + REAL_SERVERS

# Hook for the Rust extension (built separately): real servers run once per value when gobstopper_rs is
# importable, else with the pure-Python paths only. In-process paths use the current environment.
NATIVE_VARIANTS: tuple[str, ...] = ("0", "1") if importlib.util.find_spec("gobstopper_rs") is not None else ("0",)

HOST = "testserver"
# Sent on every path so that nothing in a response depends on which client library made the request.
DEFAULT_HEADERS = {"host": HOST, "user-agent": "compat-tests", "accept": "*/*", "accept-encoding": "identity"}

# Headers a server adds on its own. They are never compared. content-length is compared unless a scenario
# says otherwise (e.g. streams, where a server may choose chunked encoding).
SERVER_HEADERS = frozenset({"date", "server", "transfer-encoding", "connection", "keep-alive"})

CLIENT_ADDR = ("127.0.0.1", 12345)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One HTTP answer as seen on the wire: lower-case header names in order, duplicates kept."""

    path: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    note: str = ""  # server log tail, last exception... shown in assertion messages

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def header_list(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.body)

    def comparable(self, ignore: Iterable[str] = ()) -> tuple[int, list[tuple[str, str]], bytes]:
        drop = SERVER_HEADERS | {h.lower() for h in ignore}
        # Header order is not part of the contract (servers append theirs); duplicates are.
        return self.status, sorted((k, v) for k, v in self.headers if k not in drop), self.body

    def __repr__(self) -> str:
        return f"<{self.path} {self.status} {self.headers!r} {self.body[:300]!r}>"


def assert_same(got: Result, ref: Result, ignore: Iterable[str] = (), *, body: bool = True) -> None:
    """Assert two paths answered identically (status, headers minus server-added ones, body)."""
    g, r = got.comparable(ignore), ref.comparable(ignore)
    if not body:
        g, r = (g[0], g[1], b""), (r[0], r[1], b"")
    assert g == r, (
        f"{got.path} differs from {ref.path}\n  {got.path}: {g}\n  {ref.path}: {r}\n{got.note}{ref.note}".rstrip()
    )


def _result_from_httpx(path: str, response: httpx.Response) -> Result:
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw]
    return Result(path, response.status_code, headers, response.content)


# --------------------------------------------------------------------------------------------------
# Raw socket client (for inputs a normal HTTP client would normalise)
# --------------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int  # 0: the server closed the connection without answering
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes = b""


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes) -> int:
    while True:
        idx = buf.find(marker)
        if idx >= 0:
            return idx
        chunk = sock.recv(65536)
        if not chunk:
            return -1
        buf += chunk


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bool:
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
    return True


def read_all(sock: socket.socket, bound: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection (True) or ``bound`` seconds pass (False)."""
    data = b""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def raw_request(host: str, port: int, data: bytes, *, timeout: float = 5.0, head: bool = False) -> RawResponse:
    """Send ``data`` as is and parse one HTTP/1.1 response (content-length, chunked or read-to-close)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        buf = bytearray()
        try:
            end = _read_until(sock, buf, b"\r\n\r\n")
        except (TimeoutError, ConnectionResetError):
            end = -1
        if end < 0:
            return RawResponse(0, [], b"", bytes(buf))
        head_lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        rest = bytearray(buf[end + 4 :])
        status = int(head_lines[0].split(" ", 2)[1])
        headers = []
        for line in head_lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        hmap = {k: v for k, v in reversed(headers)}
        body = b""
        if head or status < 200 or status in (204, 304):
            body = b""
        elif "chunked" in hmap.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                idx = _read_until(sock, rest, b"\r\n")
                if idx < 0:
                    break
                size = int(bytes(rest[:idx]).split(b";")[0], 16)
                del rest[: idx + 2]
                if size == 0:
                    break
                if not _read_exact(sock, rest, size + 2):
                    out += rest
                    break
                out += rest[:size]
                del rest[: size + 2]
            body = bytes(out)
        elif "content-length" in hmap:
            n = int(hmap["content-length"])
            _read_exact(sock, rest, n)
            body = bytes(rest[:n])
        else:
            try:
                while chunk := sock.recv(65536):
                    rest += chunk
            except TimeoutError:
                pass
            body = bytes(rest)
        return RawResponse(status, headers, body, bytes(buf))


def parse_raw_request(data: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """Split raw request bytes into method, target, headers and body (for in-process paths)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers, body


# --------------------------------------------------------------------------------------------------
# Targets: one object per path with the same small API
# --------------------------------------------------------------------------------------------------


class Target:
    name: str
    native: str

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] | dict[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
    ) -> Result:
        raise NotImplementedError

    def raw(self, data: bytes, *, head: bool = False) -> Result:
        raise NotImplementedError

    @property
    def real(self) -> bool:
        return self.name in REAL_SERVERS

    def get(self, url: str, **kw: Any) -> Result:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> Result:
        return self.request("HEAD", url, **kw)

    def post(self, url: str, **kw: Any) -> Result:
        return self.request("POST", url, **kw)

    def options(self, url: str, **kw: Any) -> Result:
        return self.request("OPTIONS", url, **kw)

    def __repr__(self) -> str:
        return f"<Target {self.name} native={self.native}>"


def _merge_headers(headers: Sequence[tuple[str, str]] | dict[str, str] | None) -> list[tuple[str, str]]:
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    given = {k.lower() for k, _ in items}
    return [(k, v) for k, v in DEFAULT_HEADERS.items() if k not in given] + items


class HttpxTarget(Target):
    """A target driven by an httpx-compatible client (in-process clients and real servers alike)."""

    def __init__(self, name: str, native: str, client: httpx.Client, base: str) -> None:
        self.name, self.native, self.client, self.base = name, native, client, base

    def note(self) -> str:
        return ""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] | dict[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
    ) -> Result:
        # Build the request ourselves: client-level defaults would collapse duplicate headers, and a
        # relative "//x" URL would be read as a network-path reference.
        req = httpx.Request(
            method, httpx.URL(self.base + url), headers=_merge_headers(headers), content=content, json=json
        )
        try:
            response = self.client.send(req)
        except httpx.RemoteProtocolError as exc:
            # e.g. uvicorn closes the connection without an answer when a header value holds CR/LF.
            return Result(self.name, 0, [], f"<no response: {exc}>".encode(), self.note())
        finally:
            self.client.cookies.clear()  # no state between scenarios
        result = _result_from_httpx(self.name, response)
        result.note = self.note()
        return result

    def raw(self, data: bytes, *, head: bool = False) -> Result:
        method, target, headers, body = parse_raw_request(data)
        if not target.startswith("/"):
            raise NotImplementedError(f"in-process paths only take origin-form targets, not {target!r}")
        try:  # raw UTF-8 in the target: httpx sends it percent-encoded, which the app decodes to the same text
            target = target.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            pass
        req = httpx.Request(method, httpx.URL(self.base + target), headers=headers, content=body or None)
        try:
            response = self.client.send(req)
        finally:
            self.client.cookies.clear()
        result = _result_from_httpx(self.name, response)
        result.note = self.note()
        return result


class InProcessTarget(HttpxTarget):
    def note(self) -> str:
        exc = getattr(self.client, "last_exception", None)
        return f"\n  [{self.name} last_exception: {exc!r}]" if exc is not None else ""


def load_app(ref: str) -> Any:
    """Import ``module:attr`` from compat_tests/apps (the same string the servers get)."""
    module_name, _, attr = ref.partition(":")
    for directory in (EXAMPLES_DIR, APPS_DIR):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    return getattr(importlib.import_module(module_name), attr or "app")


def make_in_process(name: str, app: Any) -> tuple[InProcessTarget, Any]:
    """Build an in-process target; returns it and the client to enter/exit (lifespan)."""
    client: httpx.Client
    if name == "asgi":
        client = TestClient(
            app, base_url=f"http://{HOST}", raise_server_exceptions=False, follow_redirects=False, client=CLIENT_ADDR
        )
    elif name == "rsgi":
        client = RSGITestClient(app, base_url=f"http://{HOST}", client=f"{CLIENT_ADDR[0]}:{CLIENT_ADDR[1]}")
    else:
        raise ValueError(name)
    return InProcessTarget(name, os.environ.get("GOBSTOPPER_NATIVE", "auto"), client, f"http://{HOST}"), client


# --------------------------------------------------------------------------------------------------
# Real servers
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ServerKey:
    kind: str  # uvicorn | granian-asgi | granian-rsgi
    app: str  # module:attr inside compat_tests/apps
    native: str  # GOBSTOPPER_NATIVE value

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.app.replace(':', '.')}-native{self.native}"


def server_command(kind: str, app: str, port: int) -> list[str]:
    if kind == "uvicorn":
        # Default HTTP implementation (httptools when installed, else h11); lifespan on so failures show; no
        # Server header and no proxy-header rewriting of its own, as ``gobstopper run`` starts it.
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on",
                "--no-server-header", "--no-proxy-headers", "--no-access-log", "--app-dir", str(APPS_DIR),
                app]  # fmt: skip
    if kind in ("granian-asgi", "granian-rsgi"):
        return [sys.executable, "-m", "granian", "--interface", kind.split("-")[1], "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1", "--working-dir", str(APPS_DIR), app]  # fmt: skip
    raise ValueError(kind)


_BIND_FAILURES = ("Address already in use", "error while attempting to bind")


def _lost_the_port(log: str) -> bool:
    """Whether a server's log says it could not bind its port (granian: ``Address already in use (os error 98)``,
    uvicorn: ``[Errno 98] error while attempting to bind``)."""
    return any(text in log for text in _BIND_FAILURES)


@dataclass
class RealServer:
    key: ServerKey
    log_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default=Path())
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.port = free_port()
        self.log_path = self.log_dir / f"{self.key.slug}-{self.port}.log"
        env = dict(os.environ)
        env.update(self.extra_env)
        env["GOBSTOPPER_NATIVE"] = self.key.native
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(APPS_DIR), str(EXAMPLES_DIR), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        # Apps that test on_shutdown write this file (the server has exited by the time anyone can look).
        env["COMPAT_SHUTDOWN_FILE"] = str(self.log_path.with_suffix(".shutdown"))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                server_command(self.key.kind, self.key.app, self.port),
                cwd=APPS_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: granian workers can be reaped with the master
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        req = f"GET /__compat_ready HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        restarts = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # free_port() hands out a port that another process on the machine may take before the server binds
                # it: that race (and only that one) is retried on a fresh port.
                if restarts < 3 and _lost_the_port(self.log_text(limit=1_000_000)):
                    restarts += 1
                    self.start()
                    continue
                raise RuntimeError(f"{self.key.slug} exited with {self.proc.returncode}\n{self.log_text()}")
            try:
                # TCP connect plus one full HTTP exchange: the worker is importing the app until it answers.
                if raw_request("127.0.0.1", self.port, req, timeout=2.0).status:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.key.slug} not ready after {timeout}s\n{self.log_text()}")

    def stop(self, timeout: float = 8.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group we created at start
                except ProcessLookupError:
                    pass
                proc.wait(5)
        return proc.returncode

    def log_text(self, limit: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]


class ServerPool:
    """Starts real servers lazily, in parallel per app, and stops them all at the end of the session."""

    def __init__(self, log_dir: Path, wanted: set[ServerKey] | None = None) -> None:
        self.log_dir = log_dir
        self.wanted = wanted or set()
        self.servers: dict[ServerKey, RealServer] = {}
        self.failed: dict[ServerKey, str] = {}

    def get(self, key: ServerKey) -> RealServer:
        if key in self.failed:
            raise RuntimeError(self.failed[key])
        server = self.servers.get(key)
        if server is not None and server.proc is not None and server.proc.poll() is None:
            return server
        # Start every server this session needs for the same app at once: startup dominates the suite.
        batch = {key} | {k for k in self.wanted if k.app == key.app and k not in self.servers}
        started = []
        for k in sorted(batch, key=lambda k: k.slug):
            srv = self.servers.get(k)
            if srv is None or srv.proc is None or srv.proc.poll() is not None:
                srv = RealServer(k, self.log_dir)
                self.servers[k] = srv
                srv.start()
                started.append(srv)
        for srv in started:
            try:
                srv.wait_ready()
            except RuntimeError as exc:
                self.failed[srv.key] = str(exc)
                srv.stop()
        if key in self.failed:
            raise RuntimeError(self.failed[key])
        return self.servers[key]

    def stop(self, key: ServerKey) -> RealServer | None:
        srv = self.servers.pop(key, None)
        if srv is not None:
            srv.stop()
        return srv

    def stop_all(self) -> None:
        for key in list(self.servers):
            self.stop(key)


class ServerTarget(HttpxTarget):
    def __init__(self, server: RealServer) -> None:
        self.server = server
        client = httpx.Client(follow_redirects=False, timeout=10.0)
        super().__init__(server.key.kind, server.key.native, client, f"http://127.0.0.1:{server.port}")

    def note(self) -> str:
        return ""

    def raw(self, data: bytes, *, head: bool = False) -> Result:
        r = raw_request("127.0.0.1", self.server.port, data, head=head)
        return Result(self.name, r.status, r.headers, r.body)

    def close(self) -> None:
        self.client.close()
