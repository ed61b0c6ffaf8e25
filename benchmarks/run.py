"""Ratio benchmark: Gobstopper against raw RSGI / raw ASGI / Starlette, real servers, wrk, interleaved.

Every (framework, server) pair runs as its own server on 127.0.0.1 with one worker. After a warm-up,
``wrk -t1 -c64 -d{duration}s`` runs against each pair in turn, A, B, C, … for ``--rounds`` rounds (the order
is reversed every other round so slow drift of the machine cancels out). Each pair's figure is the median
over the rounds; the headline is the ratio of Gobstopper's median to a baseline measured in the same run.
Absolute req/s are printed too, but they mean nothing across runs on a shared machine (see PERFORMANCE.md).

Usage::

    .venv/bin/python benchmarks/run.py                       # 3 rounds x 5 s, every pair
    .venv/bin/python benchmarks/run.py --smoke               # 1 round x 1 s (a quick check, not a measurement)
    .venv/bin/python benchmarks/run.py --only granian-rsgi --json out.json

The output format is kept stable so runs can be compared over time.
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
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
FORMAT_VERSION = 1
WRK_THREADS = 1
WRK_CONNECTIONS = 64

#: scenario name -> (path, check of the response body)
SCENARIOS: dict[str, str] = {"plaintext": "/plaintext", "json": "/json"}
EXPECTED_BODIES: dict[str, Any] = {"plaintext": b"Hello, World!", "json": {"message": "Hello, World!"}}


@dataclass(frozen=True)
class Framework:
    """An app under test: an import target inside a directory of this folder."""

    name: str
    directory: Path
    target: str
    interfaces: tuple[str, ...]  # "rsgi", "asgi"


@dataclass(frozen=True)
class ServerKind:
    """A way to serve an app: the server program and the protocol it speaks."""

    name: str
    interface: str

    def command(self, target: str, port: int) -> list[str]:
        """Build the command line that serves ``target`` on ``port`` with one worker.

        Args:
            target: ``module:attribute`` importable from the working directory.
            port: TCP port on 127.0.0.1.

        Returns:
            The argv list.
        """
        py = sys.executable
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


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("raw-rsgi", HERE / "baselines", "raw_rsgi:app", ("rsgi",)),
        Framework("raw-asgi", HERE / "baselines", "raw_asgi:app", ("asgi",)),
        Framework("starlette", HERE / "baselines", "starlette_app:app", ("asgi",)),
        Framework("gobstopper", HERE / "apps", "gobstopper_app:app", ("rsgi", "asgi")),
    )
}
SERVERS: dict[str, ServerKind] = {
    s.name: s
    for s in (ServerKind("granian-rsgi", "rsgi"), ServerKind("granian-asgi", "asgi"), ServerKind("uvicorn", "asgi"))
}

#: (server, framework) pairs, in the order they are measured within a round.
PAIRS: tuple[tuple[str, str], ...] = (
    ("granian-rsgi", "raw-rsgi"),
    ("granian-rsgi", "gobstopper"),
    ("granian-asgi", "raw-asgi"),
    ("granian-asgi", "gobstopper"),
    ("uvicorn", "raw-asgi"),
    ("uvicorn", "starlette"),
    ("uvicorn", "gobstopper"),
)


@dataclass(frozen=True)
class Comparison:
    """One headline ratio: ``framework / baseline`` on one server, with its target."""

    server: str
    framework: str
    baseline: str
    target: float


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("granian-rsgi", "gobstopper", "raw-rsgi", 0.85),
    Comparison("granian-asgi", "gobstopper", "raw-asgi", 0.85),
    Comparison("uvicorn", "gobstopper", "raw-asgi", 0.85),
    Comparison("uvicorn", "gobstopper", "starlette", 1.6),
)


@dataclass
class Measurement:
    """All wrk runs of one (scenario, server, framework)."""

    scenario: str
    server: str
    framework: str
    rps: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        """Median req/s over the rounds, or None if nothing was measured."""
        return statistics.median(self.rps) if self.rps else None


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


def start_server(server: str, framework: str, timeout: float = 30.0) -> RunningServer:
    """Start one (server, framework) pair and wait until it answers.

    Args:
        server: Key of :data:`SERVERS`.
        framework: Key of :data:`FRAMEWORKS`.
        timeout: Seconds to wait for the first answer.

    Returns:
        The running server.

    Raises:
        RuntimeError: If the process exits or does not answer in time (it is stopped first).
    """
    kind, app = SERVERS[server], FRAMEWORKS[framework]
    port = free_port()
    log = tempfile.TemporaryFile()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        kind.command(app.target, port),
        cwd=app.directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group, so workers are stopped with it
    )
    running = RunningServer(server, framework, port, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = running.log_tail()
            stop_server(running)
            raise RuntimeError(f"{server}/{framework} exited with {process.returncode}:\n{tail}")
        try:
            http_get(port, "/", timeout=1.0)
            return running
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            tail = running.log_tail()
            stop_server(running)
            raise RuntimeError(f"{server}/{framework} did not answer within {timeout:.0f}s:\n{tail}")
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
def servers_running(pairs: Sequence[tuple[str, str]]) -> Iterator[tuple[dict[tuple[str, str], RunningServer], dict]]:
    """Start every pair; always stop every started server on exit.

    Yields:
        The running servers by pair, and start-up errors by pair.
    """
    running: dict[tuple[str, str], RunningServer] = {}
    failed: dict[tuple[str, str], str] = {}
    try:
        for pair in pairs:
            try:
                running[pair] = start_server(*pair)
            except RuntimeError as exc:
                failed[pair] = str(exc)
                print(f"! {exc}", file=sys.stderr)
        yield running, failed
    finally:
        for srv in running.values():
            stop_server(srv)


def check_response(running: RunningServer, scenario: str) -> str | None:
    """Check that a pair gives the right answer for a scenario before it is timed.

    Returns:
        None if the answer is right, else what is wrong.
    """
    try:
        status, headers, body = http_get(running.port, SCENARIOS[scenario])
    except (OSError, urllib.error.URLError) as exc:
        return f"request failed: {exc}"
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    expected = EXPECTED_BODIES[scenario]
    if scenario == "json":
        try:
            ok = json.loads(body) == expected
        except ValueError:
            ok = False
        ok = ok and headers.get("content-type", "").startswith("application/json")
    else:
        ok = body == expected and headers.get("content-type", "").startswith("text/plain")
    if not ok:
        return f"wrong answer: content-type={headers.get('content-type')!r} body={body[:200]!r}"
    return None


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


def run_wrk(port: int, path: str, duration: int) -> tuple[float, str | None]:
    """Run ``wrk -t1 -c64 -d{duration}s`` against one URL.

    Returns:
        Requests per second and an error summary (see :func:`parse_wrk`).
    """
    cmd = [
        "wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--timeout", "5s",
        f"http://{HOST}:{port}{path}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return parse_wrk(result.stdout)


# ------------------------------------------------------------------------------------------- reporting


def compute_ratios(measurements: dict[tuple[str, str, str], Measurement], scenarios: Sequence[str]) -> list[dict]:
    """Compute every headline ratio whose two sides were measured.

    Args:
        measurements: By (scenario, server, framework).
        scenarios: Scenarios in display order.

    Returns:
        One dict per ratio: scenario, server, framework, baseline, ratio (None if a side is missing), target,
        meets_target, and round_ratios (framework / baseline within each round, where both were measured; the two
        runs of a round are adjacent in time, so their spread shows how far the machine's noise moved the ratio).
    """
    rows = []
    for scenario in scenarios:
        for comp in COMPARISONS:
            ours = measurements.get((scenario, comp.server, comp.framework))
            base = measurements.get((scenario, comp.server, comp.baseline))
            if ours is None or base is None:  # a side was not selected (--only)
                continue
            ratio = None
            if ours.median and base.median:
                ratio = ours.median / base.median
            round_ratios = []
            if len(ours.rps) == len(base.rps):
                round_ratios = [a / b for a, b in zip(ours.rps, base.rps) if b]
            rows.append(
                {
                    "scenario": scenario,
                    "server": comp.server,
                    "framework": comp.framework,
                    "baseline": comp.baseline,
                    "ratio": ratio,
                    "target": comp.target,
                    "meets_target": None if ratio is None else ratio >= comp.target,
                    "round_ratios": round_ratios,
                }
            )
    return rows


def format_report(
    meta: dict[str, Any], measurements: dict[tuple[str, str, str], Measurement], ratios: list[dict]
) -> str:
    """Render the stable plain-text report: ratios first (the headline), then absolute req/s.

    Returns:
        The report text.
    """
    lines = [
        f"gobstopper benchmark v{meta['format']}  wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{meta['duration']}s"
        f"  rounds={meta['rounds']}  mode={meta['mode']}  native={'on' if meta['native'] else 'off'}",
        "versions: " + "  ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        "RATIOS (median rps of framework / median rps of baseline, same run)",
        f"{'scenario':<10} {'server':<13} {'comparison':<26} {'ratio':>6} {'target':>7}  {'status':<7}  per-round",
    ]
    for row in ratios:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        status = {True: "ok", False: "BELOW", None: "missing"}[row["meets_target"]]
        comparison = f"{row['framework']} / {row['baseline']}"
        target = f">={row['target']:.2f}"
        spread = ""
        if row["round_ratios"]:
            spread = f"{min(row['round_ratios']):.2f}-{max(row['round_ratios']):.2f}"
        lines.append(
            f"{row['scenario']:<10} {row['server']:<13} {comparison:<26} {ratio:>6} {target:>7}  {status:<7}  {spread}"
        )
    lines += [
        "",
        "ABSOLUTE (req/s; only comparable within this run)",
        f"{'scenario':<10} {'server':<13} {'framework':<12} {'median':>9}  rounds",
    ]
    for m in measurements.values():
        median = "failed" if m.median is None else f"{m.median:,.0f}"
        rounds = " ".join(f"{r:,.0f}" for r in m.rps)
        extra = f"  ! {'; '.join(m.errors)}" if m.errors else ""
        lines.append(f"{m.scenario:<10} {m.server:<13} {m.framework:<12} {median:>9}  {rounds}{extra}")
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


# ------------------------------------------------------------------------------------------------- main


def select_pairs(only: str | None) -> list[tuple[str, str]]:
    """Filter :data:`PAIRS` by ``--only``.

    Args:
        only: Comma-separated items, each ``server`` (every framework on it), ``framework`` (on every server) or
            ``server/framework``; None keeps every pair.

    Returns:
        The selected pairs in measuring order.

    Raises:
        ValueError: If an item matches no pair.
    """
    if not only:
        return list(PAIRS)
    selected: set[tuple[str, str]] = set()
    for item in (part.strip() for part in only.split(",")):
        if not item:
            continue
        if "/" in item:
            server, _, framework = item.partition("/")
            matches = {p for p in PAIRS if p == (server, framework)}
        else:
            matches = {p for p in PAIRS if item in p}
        if not matches:
            choices = ", ".join(f"{s}/{f}" for s, f in PAIRS)
            raise ValueError(f"--only {item!r} matches no pair; pairs are: {choices}")
        selected |= matches
    return [p for p in PAIRS if p in selected]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per pair (default 3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per pair and scenario (default 2)")
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s, no warm-up: a check, not a measurement")
    parser.add_argument(
        "--only",
        help="comma-separated servers, frameworks or server/framework pairs, e.g.\n"
        "'granian-rsgi' or 'uvicorn/gobstopper,uvicorn/raw-asgi'",
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.duration, args.warmup = 1, 1, 0
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be >= 1, --warmup >= 0")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    try:
        args.pairs = select_pairs(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when None).

    Returns:
        0 if every selected pair was measured without errors, else 1.
    """
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk'; see scripts/setup)", file=sys.stderr)
        return 2
    meta = {
        "format": FORMAT_VERSION,
        "mode": "smoke" if args.smoke else "full",
        "rounds": args.rounds,
        "duration": args.duration,
        "warmup": args.warmup,
        "wrk": {"threads": WRK_THREADS, "connections": WRK_CONNECTIONS},
        "versions": package_versions(),
        # The servers inherit the environment: GOBSTOPPER_NATIVE=0 benchmarks the pure-Python router.
        "native": os.environ.get("GOBSTOPPER_NATIVE", "1") != "0"
        and importlib.util.find_spec("gobstopper_rs") is not None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    measurements: dict[tuple[str, str, str], Measurement] = {
        (sc, srv, fw): Measurement(sc, srv, fw) for sc in args.scenarios for srv, fw in args.pairs
    }
    ok = True
    with servers_running(args.pairs) as (running, failed):
        for srv, fw in failed:
            ok = False
            for sc in args.scenarios:
                measurements[(sc, srv, fw)].errors.append("server did not start")
        live: dict[tuple[str, str, str], RunningServer] = {}
        for sc in args.scenarios:
            for pair, server in running.items():
                problem = check_response(server, sc)
                if problem:
                    ok = False
                    measurements[(sc, *pair)].errors.append(problem)
                    print(f"! {pair[0]}/{pair[1]} {sc}: {problem}", file=sys.stderr)
                    continue
                live[(sc, *pair)] = server
                if args.warmup:
                    run_wrk(server.port, SCENARIOS[sc], args.warmup)
        order = list(live)
        for rnd in range(args.rounds):
            # Reverse every other round (A B C, C B A, ...) so drift affects every pair alike.
            for key in order if rnd % 2 == 0 else reversed(order):
                server = live[key]
                label = f"  round {rnd + 1}/{args.rounds}  {key[0]:<10} {key[1]:<13} {key[2]:<11}"
                print(label, end="", file=sys.stderr, flush=True)
                try:
                    rps, problem = run_wrk(server.port, SCENARIOS[key[0]], args.duration)
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                    rps, problem = None, str(exc).strip().splitlines()[0]
                if rps is not None:
                    measurements[key].rps.append(rps)
                if problem:
                    ok = False
                    measurements[key].errors.append(problem)
                print(f" {rps or 0:>10,.0f} rps" + (f"  ! {problem}" if problem else ""), file=sys.stderr)
    ratios = compute_ratios(measurements, args.scenarios)
    print(format_report(meta, measurements, ratios))
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
        }
        args.json_path.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
