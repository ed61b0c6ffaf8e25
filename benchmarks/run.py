"""Ratio benchmark: Gobstopper against baselines on real servers, wrk, many short interleaved A/B slices.

Every (server, app) pair runs as its own server on 127.0.0.1 with one worker. Each *comparison* (framework A
against baseline B, same server, same scenario) is measured as ``--pairs`` pairs of short wrk slices
(``wrk -t1 -c64 -d{slice}s``): A then B, then B then A, and so on. The comparisons take turns, one pair each, so
every comparison samples the whole run. The headline is the **median of the per-pair ratios** A/B with its
interquartile range (IQR): two slices of a pair are seconds apart, so the machine's load moves both alike and the
ratio stays put even when absolute req/s swing. Absolute medians are printed too; they mean nothing across runs
on a shared machine (see docs/performance.md §1). A microbenchmark of one ``Router.match`` call (no server) comes last.

Usage::

    .venv/bin/python benchmarks/run.py                       # every scenario, 12 pairs x 2 slices x 1 s
    .venv/bin/python benchmarks/run.py --smoke               # 1 pair, no warm-up (a quick check, not a measurement)
    .venv/bin/python benchmarks/run.py --scenarios routes1000,typed1000 --pairs 20 --json out.json
    .venv/bin/python benchmarks/run.py --only granian-rsgi --scenarios plaintext,json
    .venv/bin/python benchmarks/run.py --emmett --only granian-rsgi --scenarios plaintext,json   # + Emmett
    .venv/bin/python benchmarks/run.py --memory              # only the memory check (RSS at 20k and 200k)

``--emmett`` adds Emmett (an RSGI-native framework, not a dependency of the project) as a baseline under granian
rsgi for ``plaintext`` and ``json``: it is installed from PyPI into its own virtualenv, ``benchmarks/.emmett-venv``,
with the project's granian and uvloop versions when pip accepts them, and served from there.

``--memory`` runs something else instead: the memory target of docs/performance.md §2 (RSS after 200k requests
within 10% of RSS after 20k). For Gobstopper under granian rsgi and uvicorn, on ``/plaintext`` and ``/json``, each on
a fresh server, wrk runs of 1 s (``-t1 -c64``) are repeated until wrk's own request counts add up to 20,000, then
200,000 (``--smoke``: 2,000 and 20,000); the ``VmRSS`` of the process that runs the app is read at each mark.

The output format is kept stable so runs can be compared over time (``gobstopper benchmark v2``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import IO, Any

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
FORMAT_VERSION = 2
WRK_THREADS = 1
WRK_CONNECTIONS = 64
JSON_ID = {"id": 42, "message": "Hello, World!"}

# --------------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """What is requested (one URL path) and how a right answer looks."""

    name: str
    path: str
    content_type: str  # prefix of the expected Content-Type
    body: bytes | None = None  # exact body, or None
    json_body: Any = None  # expected decoded JSON, or None
    file_size: int = 0  # > 0: a generated file of this size, served at ``path``
    min_slice: int = 1  # seconds: slow requests need longer slices to complete enough of them (not in --smoke)


SCENARIO_LIST: tuple[Scenario, ...] = (
    Scenario("plaintext", "/plaintext", "text/plain", body=b"Hello, World!"),
    Scenario("json", "/json", "application/json", json_body={"message": "Hello, World!"}),
    Scenario("routes1000", "/json/42", "application/json", json_body=JSON_ID),
    Scenario("typed1000", "/json/42", "application/json", json_body=JSON_ID),
    Scenario("static10k", "/static/f10k.bin", "application/octet-stream", file_size=10 * 1024),
    # Under uvicorn a 1 MB answer takes about half a second at 64 connections: 1 s slices complete too few.
    Scenario("static1m", "/static/f1m.bin", "application/octet-stream", file_size=1024 * 1024, min_slice=2),
)
SCENARIOS: dict[str, Scenario] = {s.name: s for s in SCENARIO_LIST}


@dataclass(frozen=True)
class Framework:
    """An app under test: an import target inside a directory of this folder, and its environment."""

    name: str
    directory: Path
    target: str
    interfaces: tuple[str, ...]  # "rsgi", "asgi"
    env: tuple[tuple[str, str], ...] = ()
    python: Path | None = None  # the interpreter that serves it; None: this one (the project's virtualenv)


@dataclass(frozen=True)
class ServerKind:
    """A way to serve an app: the server program and the protocol it speaks."""

    name: str
    interface: str

    def command(self, target: str, port: int, python: str | None = None) -> list[str]:
        """Build the command line that serves ``target`` on ``port`` with one worker.

        Args:
            target: ``module:attribute`` importable from the working directory.
            port: TCP port on 127.0.0.1.
            python: The interpreter to run the server with (default: this one).

        Returns:
            The argv list.
        """
        py = python or sys.executable
        if self.name.startswith("granian"):
            return [
                py, "-m", "granian", "--interface", self.interface, "--host", HOST, "--port", str(port),
                "--workers", "1", "--runtime-threads", "1", "--log-level", "warning", "--no-access-log", target,
            ]  # fmt: skip
        return [
            py, "-m", "uvicorn", "--host", HOST, "--port", str(port), "--workers", "1",
            "--http", "httptools", "--loop", "uvloop", "--lifespan", "on",
            "--log-level", "warning", "--no-access-log", "--app-dir", ".", target,
        ]  # fmt: skip


_APPS, _BASE = HERE / "apps", HERE / "baselines"
#: ``--emmett``: Emmett's own virtualenv (gitignored), made on demand, so that its pins never touch the project's.
EMMETT_VENV = HERE / ".emmett-venv"
EMMETT_PYTHON = EMMETT_VENV / "bin" / "python"
#: What ``--emmett`` installs there, pinned so that runs stay comparable (bump deliberately), with the orjson extra
#: as in Emmett's TechEmpower entry. granian and uvloop are pinned at run time to the project's own versions; rloop
#: is never installed (granian's ``auto`` loop would prefer it to uvloop).
EMMETT_VERSIONS = {"emmett": "2.8.2", "emmett-core": "1.4.6"}
EMMETT_REQUIREMENTS = tuple(
    f"{name}{'[orjson]' if name == 'emmett' else ''}=={pin}" for name, pin in EMMETT_VERSIONS.items()
)


def _routes_app(routes: int, native: bool) -> Framework:
    """``gob-r{routes}`` (Rust router) or ``gob-r{routes}-py`` (Python router): ``apps/gobstopper_routes.py``."""
    env = (("BENCH_ROUTES", str(routes)), ("GOBSTOPPER_NATIVE", "1" if native else "0"))
    return Framework(f"gob-r{routes}{'' if native else '-py'}", _APPS, "gobstopper_routes:app", ("rsgi",), env)


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("raw-rsgi", _BASE, "raw_rsgi:app", ("rsgi",)),
        Framework("raw-asgi", _BASE, "raw_asgi:app", ("asgi",)),
        Framework("starlette", _BASE, "starlette_app:app", ("asgi",)),
        Framework("raw-rsgi-file", _BASE, "raw_rsgi_static:app", ("rsgi",)),
        Framework("starlette-static", _BASE, "starlette_static:app", ("asgi",)),
        Framework("emmett", _BASE, "emmett_app:app", ("rsgi",), python=EMMETT_PYTHON),  # only with --emmett
        Framework("gobstopper", _APPS, "gobstopper_app:app", ("rsgi", "asgi")),
        Framework("gob-static", _APPS, "gobstopper_static:app", ("rsgi", "asgi")),
        *(_routes_app(n, native) for n in (10, 1000) for native in (True, False)),
    )
}  # fmt: skip
SERVERS: dict[str, ServerKind] = {
    s.name: s
    for s in (ServerKind("granian-rsgi", "rsgi"), ServerKind("granian-asgi", "asgi"), ServerKind("uvicorn", "asgi"))
}


@dataclass(frozen=True)
class Comparison:
    """One headline ratio: ``framework / baseline`` for one scenario on one server, with its target."""

    scenario: str
    server: str
    framework: str
    baseline: str
    target: float
    strict: bool = False  # the ratio must be above the target ("ahead of"), not merely reach it

    @property
    def op(self) -> str:
        """How the ratio is held against the target: ``>=``, or ``>`` for a strict target."""
        return ">" if self.strict else ">="

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identifies the comparison."""
        return (self.scenario, self.server, self.framework, self.baseline)


def _hello(scenario: str) -> tuple[Comparison, ...]:
    return (
        Comparison(scenario, "granian-rsgi", "gobstopper", "raw-rsgi", 0.85),
        Comparison(scenario, "granian-asgi", "gobstopper", "raw-asgi", 0.85),
        Comparison(scenario, "uvicorn", "gobstopper", "raw-asgi", 0.85),
        Comparison(scenario, "uvicorn", "gobstopper", "starlette", 1.6),
    )


def _static(scenario: str) -> tuple[Comparison, ...]:
    return (
        Comparison(scenario, "granian-rsgi", "gob-static", "raw-rsgi-file", 0.90),
        Comparison(scenario, "uvicorn", "gob-static", "starlette-static", 1.5),
    )


#: Every comparison, in display (and measuring) order.
COMPARISONS: tuple[Comparison, ...] = (
    *_hello("plaintext"),
    *_hello("json"),
    Comparison("routes1000", "granian-rsgi", "gob-r1000", "gob-r10", 0.95),
    Comparison("routes1000", "granian-rsgi", "gob-r1000-py", "gob-r10-py", 0.70),
    Comparison("typed1000", "granian-rsgi", "gob-r1000", "raw-rsgi", 0.80),
    *_static("static10k"),
    *_static("static1m"),
)

#: ``--emmett`` only: Gobstopper against Emmett under granian rsgi, "ahead of Emmett" (docs/performance.md §2).
EMMETT_COMPARISONS: tuple[Comparison, ...] = tuple(
    Comparison(scenario, "granian-rsgi", "gobstopper", "emmett", 1.0, strict=True) for scenario in ("plaintext", "json")
)


def all_comparisons(emmett: bool = False) -> tuple[Comparison, ...]:
    """Every comparison in display order; with ``emmett``, each Emmett row follows its scenario's raw-rsgi row."""
    if not emmett:
        return COMPARISONS
    out: list[Comparison] = []
    for comp in COMPARISONS:
        out.append(comp)
        if (comp.server, comp.framework, comp.baseline) == ("granian-rsgi", "gobstopper", "raw-rsgi"):
            out += [e for e in EMMETT_COMPARISONS if e.scenario == comp.scenario]
    return tuple(out)


def pairs_of(comparisons: Sequence[Comparison]) -> tuple[tuple[str, str], ...]:
    """The (server, framework) pairs that ``comparisons`` need, in order of first use."""
    return tuple(dict.fromkeys(p for c in comparisons for p in ((c.server, c.framework), (c.server, c.baseline))))


#: (server, framework) pairs, in order of first use.
PAIRS: tuple[tuple[str, str], ...] = pairs_of(COMPARISONS)

# ----------------------------------------------------------------------------------------- measurements


def iqr(values: Sequence[float]) -> tuple[float, float] | None:
    """The first and third quartiles (inclusive method), or None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


@dataclass
class Measurement:
    """Every wrk slice of one (scenario, server, framework), in measuring order."""

    scenario: str
    server: str
    framework: str
    rps: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        """Median req/s over the slices, or None if nothing was measured."""
        return statistics.median(self.rps) if self.rps else None


@dataclass
class ComparisonResult:
    """The slices of one comparison: ``framework_rps[i]`` and ``baseline_rps[i]`` are pair ``i``.

    ``cpu_ratios`` holds, per pair where the server CPU time was known, the baseline's server CPU seconds per
    request divided by the framework's: the same direction as the rps ratio (above 1 = the framework is
    cheaper), but much less moved by other processes taking the CPU (it counts the server's own time only).
    """

    comparison: Comparison
    framework_rps: list[float] = field(default_factory=list)
    baseline_rps: list[float] = field(default_factory=list)
    framework_cpu: list[float] = field(default_factory=list)  # server CPU seconds per request, where known
    baseline_cpu: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)
    missing: bool = False  # a side did not start or answered wrongly

    def add(self, framework: Slice, baseline: Slice) -> None:
        """Record one pair of slices (both with an rps figure)."""
        assert framework.rps is not None and baseline.rps is not None
        self.framework_rps.append(framework.rps)
        self.baseline_rps.append(baseline.rps)
        if framework.cpu_per_request and baseline.cpu_per_request:
            self.framework_cpu.append(framework.cpu_per_request)
            self.baseline_cpu.append(baseline.cpu_per_request)
            self.cpu_ratios.append(baseline.cpu_per_request / framework.cpu_per_request)

    @property
    def pair_ratios(self) -> list[float]:
        """framework / baseline within each pair."""
        return [a / b for a, b in zip(self.framework_rps, self.baseline_rps) if b > 0]

    def row(self) -> dict[str, Any]:
        """The JSON/report row: median ratio, IQR, medians of absolute rps, target and status."""
        comp, ratios = self.comparison, self.pair_ratios
        ratio = None if self.missing or not ratios else statistics.median(ratios)
        quartiles = None if ratio is None else iqr(ratios)
        meets = None if ratio is None else (ratio > comp.target if comp.strict else ratio >= comp.target)
        return {
            "scenario": comp.scenario,
            "server": comp.server,
            "framework": comp.framework,
            "baseline": comp.baseline,
            "ratio": ratio,
            "iqr": None if quartiles is None else list(quartiles),
            "target": comp.target,
            "target_op": comp.op,
            "meets_target": meets,
            "pairs": len(ratios),
            "pair_ratios": ratios,
            "framework_median_rps": statistics.median(self.framework_rps) if self.framework_rps else None,
            "baseline_median_rps": statistics.median(self.baseline_rps) if self.baseline_rps else None,
            "cpu_ratio": statistics.median(self.cpu_ratios) if self.cpu_ratios and ratio is not None else None,
            "cpu_iqr": None if ratio is None or not self.cpu_ratios else list(iqr(self.cpu_ratios) or ()),
            "cpu_ratios": self.cpu_ratios,
            "framework_cpu_us": statistics.median(self.framework_cpu) * 1e6 if self.framework_cpu else None,
            "baseline_cpu_us": statistics.median(self.baseline_cpu) * 1e6 if self.baseline_cpu else None,
        }


@dataclass
class RunningServer:
    """A server process started by this script."""

    server: str
    framework: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the server's combined output."""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------- servers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """GET ``http://127.0.0.1:{port}{path}``.

    Returns:
        Status, lower-cased headers and body.
    """
    request = urllib.request.Request(f"http://{HOST}:{port}{path}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def spawn_server(server: str, framework: str, extra_env: dict[str, str]) -> RunningServer:
    """Start one (server, framework) pair without waiting for it.

    Args:
        server: Key of :data:`SERVERS`.
        framework: Key of :data:`FRAMEWORKS`.
        extra_env: Added to the inherited environment (before the framework's own variables).

    Returns:
        The process, maybe not answering yet.
    """
    kind, app = SERVERS[server], FRAMEWORKS[framework]
    port = free_port()
    log = tempfile.TemporaryFile()
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra_env)
    env.update(app.env)
    process = subprocess.Popen(
        kind.command(app.target, port, None if app.python is None else str(app.python)),
        cwd=app.directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group, so workers are stopped with it
    )
    return RunningServer(server, framework, port, process, log)


def wait_until_up(running: RunningServer, deadline: float) -> str | None:
    """Wait until the server answers any HTTP request.

    Returns:
        None once it answers, else why not (it exited, or did not answer before ``deadline``).
    """
    while True:
        if running.process.poll() is not None:
            return f"exited with {running.process.returncode}:\n{running.log_tail()}"
        try:
            http_get(running.port, "/", timeout=1.0)
            return None
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            return f"did not answer in time:\n{running.log_tail()}"
        time.sleep(0.1)


def stop_server(running: RunningServer, grace: float = 5.0) -> None:
    """Stop a server this script started: SIGTERM to its pid, then SIGKILL to its process group.

    Args:
        running: The server to stop.
        grace: Seconds to wait after SIGTERM.
    """
    process = running.process
    pid = process.pid
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            process.wait(timeout=grace)
    # Workers left behind by a master that died: the group id is the pid (start_new_session=True).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    running.log.close()


@contextlib.contextmanager
def servers_running(
    pairs: Sequence[tuple[str, str]], extra_env: dict[str, str], timeout: float = 60.0
) -> Iterator[tuple[dict[tuple[str, str], RunningServer], dict[tuple[str, str], str]]]:
    """Start every pair (all at once); always stop every started server on exit.

    Yields:
        The running servers by pair, and start-up errors by pair.
    """
    started: dict[tuple[str, str], RunningServer] = {}
    failed: dict[tuple[str, str], str] = {}
    try:
        for pair in pairs:
            started[pair] = spawn_server(*pair, extra_env)
        deadline = time.monotonic() + timeout
        for pair, srv in started.items():
            problem = wait_until_up(srv, deadline)
            if problem:
                failed[pair] = problem
                print(f"! {pair[0]}/{pair[1]} {problem}", file=sys.stderr)
        yield {p: s for p, s in started.items() if p not in failed}, failed
    finally:
        for srv in started.values():
            stop_server(srv)


def check_response(port: int, scenario: Scenario, files: dict[str, bytes]) -> tuple[str | None, dict[str, str]]:
    """Check that a server gives the right answer for a scenario before it is timed.

    Args:
        port: The server's port.
        scenario: What to request and expect.
        files: Expected file contents by URL path (the static scenarios).

    Returns:
        None if the answer is right (else what is wrong), and the response headers.
    """
    try:
        status, headers, body = http_get(port, scenario.path)
    except (OSError, urllib.error.URLError) as exc:
        return f"request failed: {exc}", {}
    if status != 200:
        return f"status {status}: {body[:200]!r}", headers
    content_type = headers.get("content-type", "")
    if not content_type.startswith(scenario.content_type):
        return f"content-type {content_type!r}, expected {scenario.content_type!r}", headers
    if scenario.file_size:
        expected = files[scenario.path]
        if headers.get("content-length") != str(len(expected)) or body != expected:
            return f"wrong file: content-length={headers.get('content-length')!r}, {len(body)} bytes", headers
    elif scenario.json_body is not None:
        try:
            ok = json.loads(body) == scenario.json_body
        except ValueError:
            ok = False
        if not ok:
            return f"wrong JSON body {body[:200]!r}", headers
    elif body != scenario.body:
        return f"wrong body {body[:200]!r}", headers
    return None, headers


def write_static_files(directory: Path, scenarios: Sequence[Scenario]) -> dict[str, bytes]:
    """Write each static scenario's file (random bytes of its size) into ``directory``.

    Returns:
        The contents by URL path.
    """
    files = {}
    for sc in scenarios:
        if sc.file_size:
            data = os.urandom(sc.file_size)
            (directory / sc.path.rsplit("/", 1)[1]).write_bytes(data)
            files[sc.path] = data
    return files


# ------------------------------------------------------------------------------------------------- wrk

_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> tuple[float, str | None]:
    """Extract req/s and any error summary from wrk's output.

    Args:
        output: wrk's stdout.

    Returns:
        Requests per second, and a description of errors (None when there were none).

    Raises:
        ValueError: If the output has no ``Requests/sec`` line.
    """
    match = _RPS_RE.search(output)
    if not match:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    problems = []
    non2xx = _NON2XX_RE.search(output)
    if non2xx:
        problems.append(f"{non2xx.group(1)} non-2xx responses")
    sock = _SOCKET_RE.search(output)
    if sock and any(int(n) for n in sock.groups()):
        problems.append("socket errors: connect {}, read {}, write {}, timeout {}".format(*sock.groups()))
    return float(match.group(1)), "; ".join(problems) or None


_REQUESTS_RE = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)


def parse_wrk_requests(output: str) -> int | None:
    """The number of completed requests in wrk's output (``N requests in 1.00s``), or None."""
    match = _REQUESTS_RE.search(output)
    return int(match.group(1)) if match else None


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float | None:
    """User + system CPU seconds of the live processes in process group ``pgid`` (Linux ``/proc``), or None."""
    total = 0
    found = False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone, or not ours to read
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid:
            found = True
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _CLK_TCK if found else None


@dataclass
class Slice:
    """One wrk run: req/s, CPU seconds the server spent per request (None if unknown), and any problem."""

    rps: float | None
    cpu_per_request: float | None
    problem: str | None


def run_wrk(port: int, path: str, duration: int) -> tuple[float, str | None]:
    """Run ``wrk -t1 -c64 -d{duration}s`` against one URL.

    Returns:
        Requests per second and an error summary (see :func:`parse_wrk`).
    """
    rps, problem, _ = _run_wrk(port, path, duration)
    return rps, problem


def _run_wrk(port: int, path: str, duration: int) -> tuple[float, str | None, int | None]:
    cmd = [
        "wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--timeout", "5s",
        f"http://{HOST}:{port}{path}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    rps, problem = parse_wrk(result.stdout)
    return rps, problem, parse_wrk_requests(result.stdout)


def timed_slice(server: RunningServer, path: str, duration: int) -> Slice:
    """One wrk slice, with the server's CPU time around it; a wrk failure becomes a problem text."""
    pgid = server.process.pid  # start_new_session=True: the group id is the pid
    before = group_cpu_seconds(pgid)
    try:
        rps, problem, requests = _run_wrk(server.port, path, duration)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        return Slice(None, None, str(exc).strip().splitlines()[0])
    after = group_cpu_seconds(pgid)
    if not rps:
        problem = "; ".join(filter(None, ["no request completed in the slice", problem]))
    cpu = None
    if before is not None and after is not None and requests:
        cpu = (after - before) / requests
    return Slice(rps, cpu, problem)


# ------------------------------------------------------------------------------------- microbenchmark


def load_routes_table() -> ModuleType:
    """Import ``apps/routes_table.py`` (the apps import it from their own directory)."""
    spec = importlib.util.spec_from_file_location("bench_routes_table", _APPS / "routes_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def router_classes() -> dict[str, Callable[[], Any] | None]:
    """The router implementations by name (None when the Rust extension is not installed)."""
    from gobstopper._native.router import Router as PythonRouter

    try:
        from gobstopper_rs import Router as RustRouter
    except ImportError:
        RustRouter = None
    return {"rust": RustRouter, "python": PythonRouter}


MICRO_TARGETS = {"rust": 300.0}


def micro_benchmark(repeat: int, number: int, sizes: Sequence[int] = (10, 1000)) -> list[dict[str, Any]]:
    """Time one ``Router.match`` call through Python: best of ``repeat`` runs of ``number`` calls.

    For each router (Rust, Python) and table size: a static path of the table and ``/json/42`` (``<int:id>``).
    Every lookup is checked (found, the right endpoint, ``{"id": 42}``) before it is timed.

    Returns:
        One row per (router, routes, path): ``ns`` (None if unavailable), ``target`` (None if none) and
        ``error``.
    """
    table_mod = load_routes_table()
    rows: list[dict[str, Any]] = []
    for name, cls in router_classes().items():
        for size in sizes:
            router = None
            if cls is not None:
                router = cls()
                for index, (pattern, methods) in enumerate(table_mod.route_table(size)):
                    router.add(pattern, methods, f"r{index}")
            for kind, path in (("static", table_mod.static_sample(size)), ("int", table_mod.TARGET_PATH)):
                row: dict[str, Any] = {
                    "router": name, "routes": size, "kind": kind, "path": path, "ns": None,
                    "target": MICRO_TARGETS.get(name), "error": None,
                }  # fmt: skip
                rows.append(row)
                if router is None:
                    row["error"] = "gobstopper_rs is not installed"
                    continue
                got = router.match("GET", path)
                want_params = table_mod.TARGET_PARAMS if kind == "int" else {}
                if got[0] != 0 or (kind == "int" and got[1] != "r0") or dict(got[2] or {}) != want_params:
                    row["error"] = f"wrong match {got!r}"
                    continue
                timer = timeit.Timer("match('GET', path)", globals={"match": router.match, "path": path})
                row["ns"] = min(timer.repeat(repeat=repeat, number=number)) / number * 1e9
    return rows


# --------------------------------------------------------------------------------------------- memory

#: ``--memory``: the app whose memory is watched, on each server, and the paths it is driven on.
MEMORY_PAIRS: tuple[tuple[str, str], ...] = (("granian-rsgi", "gobstopper"), ("uvicorn", "gobstopper"))
MEMORY_SCENARIOS: tuple[str, ...] = ("plaintext", "json")
#: Cumulative request counts (wrk's own) after which the RSS is read: the 20k and 200k of docs/performance.md §2;
#: ``--smoke`` uses the small ones, which only check that the section runs.
MEMORY_MARKS = (20_000, 200_000)
MEMORY_SMOKE_MARKS = (2_000, 20_000)
MEMORY_TARGET = 1.10  # RSS at the second mark / RSS at the first, at most
MEMORY_RUN_SECONDS = 1  # each wrk run (wrk takes whole seconds); the runs are repeated until a mark is passed
MEMORY_MAX_SECONDS = 600.0  # per server and path: give up (an error) if the marks take longer than this


def read_rss_kib(pid: int) -> int | None:
    """``VmRSS`` of a process from ``/proc/<pid>/status``, in KiB (the kernel's "kB"); None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _proc_stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after ``pid (comm)`` (state, ppid, pgrp, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (their ``/proc/<child>/stat`` names it as the parent), sorted."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat_fields(int(entry))
            if fields is not None and int(fields[1]) == pid:
                children.append(int(entry))
    return sorted(children)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process, or None if it is gone."""
    fields = _proc_stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / _CLK_TCK


def app_process(running: RunningServer, timeout: float = 10.0) -> int:
    """The pid of the process that runs the app (whose RSS ``--memory`` reads).

    How it is found, per server (both started with one worker, see :meth:`ServerKind.command`):

    - granian: the process started is granian's main process, which only supervises. It forks one worker process
      per ``--workers`` (1 here); the worker imports the app and serves the requests. So the app runs in the only
      child of the started process. The worker exists by the time the server answers; this waits a little for it
      anyway, and fails if there is not exactly one child (a granian that worked differently would be noticed).
    - uvicorn: with ``--workers 1`` uvicorn starts no supervisor and no worker process: it runs the server in the
      process it was started as, so that is the started pid itself.

    :func:`measure_memory` checks the choice too: the process must have used CPU time while wrk ran.

    Raises:
        RuntimeError: If the worker cannot be found.
    """
    pid = running.process.pid
    if not running.server.startswith("granian"):
        return pid
    deadline = time.monotonic() + timeout
    while True:
        children = child_pids(pid)
        if len(children) == 1:
            return children[0]
        if len(children) > 1 or time.monotonic() > deadline:
            raise RuntimeError(f"expected one granian worker under pid {pid}, found {children or 'none'}")
        time.sleep(0.1)


@dataclass
class MemoryRun:
    """``--memory`` for one server and path: the RSS of the app's process at two cumulative request counts.

    ``requests`` and ``rss_kib`` hold one entry per reading taken (the first mark, then the second); ``start_kib``
    is the RSS once the server answered, before any load.
    """

    server: str
    framework: str
    scenario: str
    marks: tuple[int, int]
    server_pid: int | None = None
    pid: int | None = None
    start_kib: int | None = None
    requests: list[int] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    wrk_runs: int = 0
    errors: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The JSON/report row: both readings in MiB, their ratio, the target and the status."""
        mib = [kib / 1024 for kib in self.rss_kib]
        first = mib[0] if mib else None
        second = mib[1] if len(mib) > 1 else None
        ratio = None if len(self.rss_kib) < 2 or not self.rss_kib[0] else self.rss_kib[1] / self.rss_kib[0]
        return {
            "server": self.server,
            "framework": self.framework,
            "scenario": self.scenario,
            "path": SCENARIOS[self.scenario].path,
            "first_mark": self.marks[0],
            "second_mark": self.marks[1],
            "first_requests": self.requests[0] if self.requests else None,
            "second_requests": self.requests[1] if len(self.requests) > 1 else None,
            "start_rss_mib": None if self.start_kib is None else self.start_kib / 1024,
            "first_rss_mib": first,
            "second_rss_mib": second,
            "ratio": ratio,
            "target": MEMORY_TARGET,
            "target_op": "<=",
            "meets_target": None if ratio is None else ratio <= MEMORY_TARGET,
            "wrk_runs": self.wrk_runs,
            "server_pid": self.server_pid,
            "pid": self.pid,
            "errors": self.errors,
        }


def _load_until(run: MemoryRun, port: int, path: str, total: int, mark: int, deadline: float) -> int:
    """Run wrk slices of :data:`MEMORY_RUN_SECONDS` (at least one) until ``total`` + their requests >= ``mark``.

    wrk problems (non-2xx answers, socket errors) go to ``run.errors``; the load goes on.

    Returns:
        The new cumulative count of requests, by wrk's own ``N requests in`` lines.

    Raises:
        RuntimeError: If wrk fails, completes no request, or the mark is not reached before ``deadline``.
    """
    while True:
        _, problem, requests = _run_wrk(port, path, MEMORY_RUN_SECONDS)
        run.wrk_runs += 1
        if problem:
            run.errors.append(problem)
        if not requests:
            raise RuntimeError(f"a wrk run completed no request (after {total:,} requests)")
        total += requests
        if total >= mark:
            return total
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {total:,} requests of {mark:,} in {MEMORY_MAX_SECONDS:.0f} s")


def measure_memory(server: str, scenario: str, marks: tuple[int, int], framework: str = "gobstopper") -> MemoryRun:
    """Start a fresh server for one path, load it to each mark with wrk and read the app process's RSS there.

    Returns:
        The readings; what went wrong (if anything) is in ``errors``, and the readings stop there.
    """
    run = MemoryRun(server, framework, scenario, marks)
    sc = SCENARIOS[scenario]
    running = spawn_server(server, framework, {})
    try:
        run.server_pid = running.process.pid
        problem = wait_until_up(running, time.monotonic() + 60.0)
        if problem is None:
            problem, _ = check_response(running.port, sc, {})
        if problem:
            run.errors.append(problem)
            print(f"! memory {server}/{framework} {sc.path}: {problem}", file=sys.stderr)
            return run
        run.pid = app_process(running)
        run.start_kib = read_rss_kib(run.pid)
        cpu_before = process_cpu_seconds(run.pid)
        deadline = time.monotonic() + MEMORY_MAX_SECONDS
        total = 0
        for index, mark in enumerate(marks):
            total = _load_until(run, running.port, sc.path, total, mark, deadline)
            rss = read_rss_kib(run.pid)
            if rss is None:
                raise RuntimeError(f"cannot read VmRSS of pid {run.pid} (did the worker exit?)")
            if index == 0:
                cpu_after = process_cpu_seconds(run.pid)
                if cpu_before is not None and cpu_after is not None and cpu_after <= cpu_before:
                    raise RuntimeError(f"pid {run.pid} used no CPU under load: it is not the process serving")
            run.requests.append(total)
            run.rss_kib.append(rss)
            print(
                f"  memory {server:<13} {sc.path:<11} {total:>9,} requests  {rss / 1024:7.1f} MiB (pid {run.pid})",
                file=sys.stderr,
                flush=True,
            )
    except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        run.errors.append(message)
        print(f"! memory {server}/{framework} {sc.path}: {message}", file=sys.stderr)
    finally:
        stop_server(running)
    return run


# ------------------------------------------------------------------------------------------- reporting


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_cpu(framework: float | None, baseline: float | None) -> str:
    if framework is None or baseline is None:
        return "-"
    return f"{framework:.0f}/{baseline:.0f}"


def _header_lines(meta: dict[str, Any], first: str) -> list[str]:
    """The report's first line, then the versions (and Emmett's), then the load average before and after."""
    load = meta.get("loadavg", {})
    lines = [first, "versions: " + "  ".join(f"{k} {v}" for k, v in meta["versions"].items())]
    emmett = meta.get("emmett")  # only with --emmett
    if emmett:
        lines.append(
            "emmett (its own virtualenv): "
            + "  ".join(f"{k} {v}" for k, v in emmett["versions"].items())
            + (
                "  (same granian as the other servers)"
                if emmett["same_granian"]
                else f"  ! NOT the granian of the other servers ({meta['versions'].get('granian')}): "
                "its ratios compare two granian versions as well as two frameworks"
            )
        )
    if load:
        before, after = load.get("before"), load.get("after")
        lines.append(
            "load average (1/5/15 min): before "
            + (" ".join(f"{x:.2f}" for x in before) if before else "-")
            + "  after "
            + (" ".join(f"{x:.2f}" for x in after) if after else "-")
        )
    return lines


def format_report(
    meta: dict[str, Any],
    measurements: dict[tuple[str, str, str], Measurement],
    ratios: list[dict[str, Any]],
    micro: list[dict[str, Any]] | None = None,
) -> str:
    """Render the stable plain-text report: ratios first (the headline), then absolute req/s, then lookups.

    Returns:
        The report text.
    """
    lines = _header_lines(
        meta,
        f"gobstopper benchmark v{meta['format']}  wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}"
        f"  slice={meta['slice']}s  pairs={meta['pairs']}  mode={meta['mode']}"
        f"  native={'on' if meta['native'] else 'off'}",
    )
    lines += [
        "",
        "RATIOS (median over pairs of framework rps / baseline rps, adjacent slices; IQR of those ratios)",
        f"{'scenario':<10} {'server':<13} {'comparison':<30} {'ratio':>6} {'IQR':>10} {'target':>7}  "
        f"{'status':<7} {'pairs':>5}  {'cpu':>5}  {'cpu us/req':>11}",
    ]
    for row in ratios:
        status = {True: "ok", False: "BELOW", None: "missing"}[row["meets_target"]]
        comparison = f"{row['framework']} / {row['baseline']}"
        spread = "" if row["iqr"] is None else f"{row['iqr'][0]:.2f}-{row['iqr'][1]:.2f}"
        target = row.get("target_op", ">=") + format(row["target"], ".2f")
        cpu = _fmt_cpu(row.get("framework_cpu_us"), row.get("baseline_cpu_us"))
        lines.append(
            f"{row['scenario']:<10} {row['server']:<13} {comparison:<30} {_fmt_ratio(row['ratio']):>6} "
            f"{spread:>10} {target:>7}  {status:<7} {row['pairs']:>5}  "
            f"{_fmt_ratio(row.get('cpu_ratio')):>5}  {cpu:>11}"
        )
    lines += [
        "",
        "ABSOLUTE (req/s over every slice; only comparable within this run)",
        f"{'scenario':<10} {'server':<13} {'framework':<16} {'median':>9} {'min':>9} {'max':>9} {'slices':>6}",
    ]
    for m in measurements.values():
        if m.rps:
            median, low, high = (f"{x:,.0f}" for x in (statistics.median(m.rps), min(m.rps), max(m.rps)))
        else:
            median, low, high = "failed", "-", "-"
        extra = f"  ! {'; '.join(dict.fromkeys(m.errors))}" if m.errors else ""
        lines.append(
            f"{m.scenario:<10} {m.server:<13} {m.framework:<16} {median:>9} {low:>9} {high:>9} {len(m.rps):>6}" + extra
        )
    if micro:
        lines += [
            "",
            f"LOOKUP (one Router.match call through Python, ns, best of {meta['micro']['repeat']} x "
            f"{meta['micro']['number']:,} calls)",
            f"{'router':<7} {'routes':>6}  {'path':<27} {'ns':>7} {'target':>7}  status",
        ]
        for row in micro:
            path = f"{row['path']} ({row['kind']})"
            ns = "n/a" if row["ns"] is None else f"{row['ns']:.0f}"
            target = "" if row["target"] is None else f"<={row['target']:.0f}"
            if row["error"]:
                status = f"! {row['error']}"
            elif row["target"] is None:
                status = "-"
            else:
                status = "ok" if row["ns"] <= row["target"] else "ABOVE"
            lines.append(f"{row['router']:<7} {row['routes']:>6}  {path:<27} {ns:>7} {target:>7}  {status}")
    return "\n".join(lines)


def _fmt_mark(mark: int) -> str:
    """``20000`` -> ``20k`` (marks in column headings)."""
    return f"{mark // 1000}k" if mark % 1000 == 0 else f"{mark:,}"


def format_memory_report(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Render the ``--memory`` report: the header lines, then the MEMORY table (one row per server and path).

    Returns:
        The report text.
    """
    first, second = meta["memory"]["marks"]
    lines = _header_lines(
        meta,
        f"gobstopper benchmark v{meta['format']}  wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}  memory"
        f"  marks={first:,}/{second:,}  mode={meta['mode']}  native={'on' if meta['native'] else 'off'}",
    )
    a, b = _fmt_mark(first), _fmt_mark(second)
    lines += [
        "",
        f"MEMORY (VmRSS of the process running the app, MiB, on a fresh server after >= {first:,} and >= {second:,}"
        " requests)",
        f"{'server':<13} {'path':<11} {'rss@' + a:>9} {'rss@' + b:>9} {'ratio':>6} {'target':>7}  {'status':<7}"
        f" {'requests@' + a:>13} {'requests@' + b:>13}",
    ]
    for row in rows:
        rss = [("-" if row[k] is None else f"{row[k]:.1f}") for k in ("first_rss_mib", "second_rss_mib")]
        requests = [("-" if row[k] is None else f"{row[k]:,}") for k in ("first_requests", "second_requests")]
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        status = {True: "ok", False: "ABOVE", None: "missing"}[row["meets_target"]]
        extra = f"  ! {'; '.join(dict.fromkeys(row['errors']))}" if row["errors"] else ""
        lines.append(
            f"{row['server']:<13} {row['path']:<11} {rss[0]:>9} {rss[1]:>9} {ratio:>6} "
            f"{row['target_op'] + format(row['target'], '.2f'):>7}  {status:<7} {requests[0]:>13} {requests[1]:>13}"
            + extra
        )
    return "\n".join(lines)


def package_versions() -> dict[str, str]:
    """Versions of what is being measured, for the report header."""
    out = {"python": platform.python_version()}
    for dist in ("gobstopper", "gobstopper-rs", "granian", "uvicorn", "starlette"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "-"
    return out


# ----------------------------------------------------------------------------------------------- emmett

_VENV_VERSIONS = """\
import importlib.metadata as m, json
out = {}
for name in ("emmett", "emmett-core", "granian", "uvloop", "orjson", "rloop"):
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def emmett_venv_versions() -> dict[str, str | None]:
    """Versions of emmett, emmett-core, granian, uvloop, orjson and rloop in Emmett's virtualenv (None: absent)."""
    result = subprocess.run(
        [str(EMMETT_PYTHON), "-c", _VENV_VERSIONS], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def _pip_install(requirements: Sequence[str]) -> str | None:
    """``pip install`` into Emmett's virtualenv; None on success, else the tail of pip's output."""
    cmd = [str(EMMETT_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *requirements]
    print("# --emmett: pip install " + " ".join(requirements), file=sys.stderr, flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode == 0:
        return None
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def setup_emmett() -> dict[str, Any]:
    """Make Emmett's virtualenv ready (``--emmett``): create it if missing, (re)install what differs.

    Wanted there: :data:`EMMETT_REQUIREMENTS`, and the granian and uvloop versions this interpreter has (the other
    servers run with them). Nothing is downloaded when those are already installed. If pip will not install Emmett
    with this granian, Emmett is installed with a granian of its choosing, and the report says so. If pip fails
    (no network, say) but some Emmett is installed, that one is used: the report prints its versions.

    Returns:
        The ``emmett`` entry of the report's meta: ``venv``, ``versions`` (as installed there) and ``same_granian``.

    Raises:
        RuntimeError: If the virtualenv cannot be made, or no Emmett is installed in it in the end.
    """
    granian, uvloop = _installed("granian"), _installed("uvloop")
    if not EMMETT_PYTHON.exists():
        print(f"# --emmett: creating {EMMETT_VENV}", file=sys.stderr, flush=True)
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(EMMETT_VENV)], capture_output=True, text=True, timeout=300, check=False
        )
        if made.returncode != 0:
            raise RuntimeError(f"could not create {EMMETT_VENV}: {(made.stdout + made.stderr).strip()}")
    loop_pin = [f"uvloop=={uvloop}"] if uvloop else []
    have = emmett_venv_versions()
    if (
        have["orjson"] is None
        or any(have[name] != pin for name, pin in EMMETT_VERSIONS.items())
        or (granian and have["granian"] != granian)
        or (uvloop and have["uvloop"] != uvloop)
    ):
        problem = _pip_install([*EMMETT_REQUIREMENTS, *([f"granian=={granian}"] if granian else []), *loop_pin])
        if problem:
            print(f"! --emmett: pip could not install Emmett with granian {granian}:\n{problem}", file=sys.stderr)
            problem = _pip_install([*EMMETT_REQUIREMENTS, *loop_pin])
            if problem:
                print(f"! --emmett: pip could not install Emmett:\n{problem}", file=sys.stderr)
        have = emmett_venv_versions()
    if have["emmett"] is None:
        raise RuntimeError(f"Emmett is not installed in {EMMETT_VENV} (see pip's output above)")
    if have["rloop"]:
        print(
            "! --emmett: rloop is installed there: granian's auto loop runs Emmett on it, not uvloop", file=sys.stderr
        )
    return {
        "venv": str(EMMETT_VENV),
        "versions": {name: v for name, v in have.items() if v},
        "same_granian": have["granian"] == granian,
    }


# ------------------------------------------------------------------------------------------------- main


def select_pairs(only: str | None, pairs: Sequence[tuple[str, str]] = PAIRS) -> list[tuple[str, str]]:
    """Filter (server, framework) pairs by ``--only``.

    Args:
        only: Comma-separated items, each ``server`` (every framework on it), ``framework`` (on every server) or
            ``server/framework``; None keeps every pair.
        pairs: The pairs to choose from.

    Returns:
        The selected pairs in the order of ``pairs``.

    Raises:
        ValueError: If an item matches no pair.
    """
    if not only:
        return list(pairs)
    selected: set[tuple[str, str]] = set()
    for item in (part.strip() for part in only.split(",")):
        if not item:
            continue
        if "/" in item:
            server, _, framework = item.partition("/")
            matches = {p for p in pairs if p == (server, framework)}
        else:
            matches = {p for p in pairs if item in p}
        if not matches:
            choices = ", ".join(f"{s}/{f}" for s, f in pairs)
            raise ValueError(f"--only {item!r} matches no pair; pairs are: {choices}")
        selected |= matches
    return [p for p in pairs if p in selected]


def select_comparisons(
    scenarios: Sequence[str], pairs: Sequence[tuple[str, str]], comparisons: Sequence[Comparison] = COMPARISONS
) -> list[Comparison]:
    """The ``comparisons`` of ``scenarios`` whose two sides are both among ``pairs``, in the order given."""
    chosen = set(pairs)
    return [
        c
        for c in comparisons
        if c.scenario in scenarios and (c.server, c.framework) in chosen and (c.server, c.baseline) in chosen
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=12, help="A/B slice pairs per comparison (default 12)")
    parser.add_argument("--slice", type=int, default=1, help="seconds per wrk slice (default 1; wrk takes whole s)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds per server and scenario (default 1)")
    parser.add_argument("--micro-repeat", type=int, default=7, help="microbenchmark: best of N runs (default 7)")
    parser.add_argument("--micro-number", type=int, default=50_000, help="microbenchmark: calls per run")
    parser.add_argument("--no-micro", action="store_true", help="skip the Router.match microbenchmark")
    parser.add_argument("--smoke", action="store_true", help="1 pair of 1 s slices, no warm-up, tiny microbenchmark")
    parser.add_argument(
        "--only",
        help="comma-separated servers, frameworks or server/framework pairs, e.g.\n"
        "'granian-rsgi' or 'uvicorn/gobstopper,uvicorn/raw-asgi' (a comparison runs when both sides are selected)",
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated subset of {', '.join(SCENARIOS)} (default: all;\n"
        f"with --memory: {', '.join(MEMORY_SCENARIOS)}, the only ones it takes)",
    )
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--emmett",
        action="store_true",
        help="also compare with Emmett under granian-rsgi (plaintext, json); installs it from PyPI into\n"
        "benchmarks/.emmett-venv on first use, with the project's granian and uvloop versions",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="run only the memory check instead: the RSS of gobstopper's worker under granian-rsgi and uvicorn\n"
        f"after {MEMORY_MARKS[0]:,} and {MEMORY_MARKS[1]:,} requests of wrk (--smoke: {MEMORY_SMOKE_MARKS[0]:,} and "
        f"{MEMORY_SMOKE_MARKS[1]:,}), per path; takes --only, --scenarios, --smoke, --json",
    )
    args = parser.parse_args(argv)
    if args.memory:
        return _memory_args(parser, args)
    if args.smoke:
        args.pairs, args.slice, args.warmup, args.micro_repeat, args.micro_number = 1, 1, 0, 1, 1000
    if args.pairs < 1 or args.slice < 1 or args.warmup < 0 or args.micro_repeat < 1 or args.micro_number < 1:
        parser.error("--pairs, --slice, --micro-repeat and --micro-number must be >= 1, --warmup >= 0")
    args.scenarios = [s.strip() for s in (args.scenarios or ",".join(SCENARIOS)).split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    candidates = all_comparisons(args.emmett)
    try:
        args.pairs_selected = select_pairs(args.only, pairs_of(candidates))
    except ValueError as exc:
        hint = " (emmett needs --emmett)" if not args.emmett and "emmett" in (args.only or "") else ""
        parser.error(str(exc) + hint)
    args.comparisons = select_comparisons(args.scenarios, args.pairs_selected, candidates)
    if not args.comparisons:
        parser.error("no comparison has both sides selected by --only and --scenarios")
    return args


def _memory_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Finish ``--memory`` options: ``args.memory_runs`` (server, scenario) and ``args.marks``; no comparisons."""
    if args.emmett:
        parser.error("--emmett does not apply to --memory")
    args.scenarios = [s.strip() for s in (args.scenarios or ",".join(MEMORY_SCENARIOS)).split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in MEMORY_SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"--memory: unknown scenarios {unknown}; choose from {', '.join(MEMORY_SCENARIOS)}")
    try:
        pairs = select_pairs(args.only, MEMORY_PAIRS)
    except ValueError as exc:
        parser.error(f"--memory: {exc}")
    args.memory_runs = [(server, scenario) for server, _ in pairs for scenario in args.scenarios]
    args.marks = MEMORY_SMOKE_MARKS if args.smoke else MEMORY_MARKS
    args.comparisons = []
    return args


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def measure(
    comparisons: Sequence[Comparison],
    files: dict[str, bytes],
    static_dir: Path,
    args: argparse.Namespace,
) -> tuple[dict[tuple[str, str, str], Measurement], dict[tuple[str, str, str, str], ComparisonResult], bool]:
    """Start the servers, check every answer, warm up, then run the interleaved A/B slices.

    Returns:
        Measurements by (scenario, server, framework), results by comparison key, and whether all went well.
    """
    measurements: dict[tuple[str, str, str], Measurement] = {}
    for c in comparisons:
        for fw in (c.framework, c.baseline):
            measurements.setdefault((c.scenario, c.server, fw), Measurement(c.scenario, c.server, fw))
    results = {c.key: ComparisonResult(c) for c in comparisons}
    pairs = list(dict.fromkeys((srv, fw) for _, srv, fw in measurements))
    ok = True
    extra_env = {"BENCH_STATIC_DIR": str(static_dir)}
    if any(fw == "emmett" for _, fw in pairs):  # Emmett makes folders in its app's root: keep them in the run's tmp
        extra_env["BENCH_EMMETT_ROOT"] = str(static_dir / "emmett-root")
        (static_dir / "emmett-root").mkdir(exist_ok=True)
    with servers_running(pairs, extra_env) as (running, failed):
        bad: set[tuple[str, str, str]] = set()
        for key, m in measurements.items():
            pair = (m.server, m.framework)
            if pair in failed:
                m.errors.append("server did not start")
                bad.add(key)
                continue
            problem, _ = check_response(running[pair].port, SCENARIOS[m.scenario], files)
            if problem:
                m.errors.append(problem)
                bad.add(key)
                print(f"! {m.server}/{m.framework} {m.scenario}: {problem}", file=sys.stderr)
            elif args.warmup:
                timed_slice(running[pair], SCENARIOS[m.scenario].path, args.warmup)
        ok = not bad
        live = []
        for comp in comparisons:
            sides = ((comp.scenario, comp.server, comp.framework), (comp.scenario, comp.server, comp.baseline))
            if bad & set(sides):
                results[comp.key].missing = True
            else:
                live.append(comp)
        for index in range(args.pairs):
            # Comparisons take turns (reversed every other pair); within a pair, A B then B A, and so on.
            for comp in live if index % 2 == 0 else reversed(live):
                res = results[comp.key]
                scenario = SCENARIOS[comp.scenario]
                duration = args.slice if args.smoke else max(args.slice, scenario.min_slice)
                order = [(comp.framework, res.framework_rps), (comp.baseline, res.baseline_rps)]
                got: dict[str, Slice] = {}
                for fw, _ in order if index % 2 == 0 else reversed(order):
                    m = measurements[(comp.scenario, comp.server, fw)]
                    one = timed_slice(running[(comp.server, fw)], scenario.path, duration)
                    if one.rps is not None:
                        m.rps.append(one.rps)
                        got[fw] = one
                    if one.problem:
                        ok = False
                        m.errors.append(one.problem)
                if len(got) == 2:
                    a, b = got[comp.framework], got[comp.baseline]
                    res.add(a, b)
                    tail = f"{a.rps / b.rps:.3f}" if a.rps and b.rps else "n/a"
                else:
                    tail = "failed"
                print(
                    f"  pair {index + 1}/{args.pairs}  {comp.scenario:<10} {comp.server:<13} "
                    f"{comp.framework + ' / ' + comp.baseline:<30} {tail}",
                    file=sys.stderr,
                    flush=True,
                )
    return measurements, results, ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when None).

    Returns:
        0 if every selected comparison was measured without errors, 1 otherwise, 2 if wrk is missing.
    """
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk'; see scripts/setup)", file=sys.stderr)
        return 2
    if args.memory:
        return main_memory(args)
    emmett = None
    if any("emmett" in (c.framework, c.baseline) for c in args.comparisons):
        try:
            emmett = setup_emmett()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            print(f"! --emmett: {exc}", file=sys.stderr)
            return 1
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "mode": "smoke" if args.smoke else "full",
        "slice": args.slice,
        "pairs": args.pairs,
        "warmup": args.warmup,
        "wrk": {"threads": WRK_THREADS, "connections": WRK_CONNECTIONS},
        "micro": None if args.no_micro else {"repeat": args.micro_repeat, "number": args.micro_number},
        "versions": package_versions(),
        # The servers inherit the environment: GOBSTOPPER_NATIVE=0 benchmarks the pure-Python router (except in
        # the routes1000 / typed1000 apps, which set it themselves).
        "native": os.environ.get("GOBSTOPPER_NATIVE", "1") != "0"
        and importlib.util.find_spec("gobstopper_rs") is not None,
        "scenarios": args.scenarios,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg": {"before": _loadavg(), "after": None},
    }
    if emmett:
        meta["emmett"] = emmett
    seconds = sum(
        2 * args.pairs * (args.slice if args.smoke else max(args.slice, SCENARIOS[c.scenario].min_slice))
        for c in args.comparisons
    )
    print(
        f"# {len(args.comparisons)} comparisons x {args.pairs} pairs x 2 slices of >= {args.slice}s: "
        f"about {seconds / 60:.1f} min of slices",
        file=sys.stderr,
    )
    micro = None
    if not args.no_micro:  # before the servers start: nothing of ours competes for the CPU
        micro = micro_benchmark(args.micro_repeat, args.micro_number)
    with tempfile.TemporaryDirectory(prefix="gobstopper-bench-") as tmp:
        static_dir = Path(tmp)
        files = write_static_files(static_dir, [SCENARIOS[s] for s in args.scenarios])
        measurements, results, ok = measure(args.comparisons, files, static_dir, args)
    meta["loadavg"]["after"] = _loadavg()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ratios = [results[c.key].row() for c in args.comparisons]
    if micro and any(row["error"] for row in micro):
        ok = False
    print(format_report(meta, measurements, ratios, micro))
    if args.json_path:
        payload = {
            "meta": meta,
            "results": [
                {
                    "scenario": m.scenario,
                    "server": m.server,
                    "framework": m.framework,
                    "rps": m.rps,
                    "median": m.median,
                    "errors": m.errors,
                }
                for m in measurements.values()
            ],
            "ratios": ratios,
            "lookup": micro,
        }
        args.json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if ok else 1


def main_memory(args: argparse.Namespace) -> int:
    """``--memory``: one fresh server per (server, path) in turn, RSS at each mark; print (and save) the report.

    Returns:
        0 if every reading was taken without errors (whatever the ratios), 1 otherwise.
    """
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "mode": "smoke" if args.smoke else "full",
        "wrk": {"threads": WRK_THREADS, "connections": WRK_CONNECTIONS},
        "memory": {"marks": list(args.marks), "target": MEMORY_TARGET, "run_seconds": MEMORY_RUN_SECONDS},
        "versions": package_versions(),
        "native": os.environ.get("GOBSTOPPER_NATIVE", "1") != "0"
        and importlib.util.find_spec("gobstopper_rs") is not None,
        "scenarios": args.scenarios,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg": {"before": _loadavg(), "after": None},
    }
    print(
        f"# memory: {len(args.memory_runs)} server/path runs to {args.marks[1]:,} requests each",
        file=sys.stderr,
        flush=True,
    )
    runs = [measure_memory(server, scenario, args.marks) for server, scenario in args.memory_runs]
    meta["loadavg"]["after"] = _loadavg()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    rows = [run.row() for run in runs]
    print(format_memory_report(meta, rows))
    if args.json_path:
        # The v2 layout, with the ratio sections empty, and the memory rows.
        payload = {"meta": meta, "results": [], "ratios": [], "lookup": None, "memory": rows}
        args.json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(not run.errors and len(run.rss_kib) == 2 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
