"""Deterministic per-request cost: CPU instructions per request, counted by valgrind, no server, no noise.

wrk ratios (``run.py``) are the figures that count, but on a shared machine they swing by ±0.1 from run to
run. This script answers "did that change make the hot path cheaper?" exactly: it drives an app in-process with a
minimal fake protocol (no event loop: the coroutine is stepped by hand) for N and for 2N requests, each under
``valgrind --tool=callgrind``, and prints ``(instructions(2N) - instructions(N)) / N``. Start-up and import
costs cancel out; what remains is one request through adapter + core + handler, the same for every run.

The fake protocols cost almost nothing themselves, so the raw baselines show the floor of Python code on each
interface; the server's own work (HTTP parsing, the event loop) is not counted at all. Divide the figures by the
baselines' to see how much Python we add; the wrk ratio also depends on what the server costs.

Usage::

    .venv/bin/python benchmarks/instructions.py                  # every app x path, 2,000 requests
    .venv/bin/python benchmarks/instructions.py --only gobstopper-rsgi --requests 5000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# app label -> (interface, module:attr); the modules are the ones run.py serves.
APPS = {
    "raw-rsgi": ("rsgi", "baselines.raw_rsgi:app"),
    "gobstopper-rsgi": ("rsgi", "apps.gobstopper_app:app"),
    "raw-asgi": ("asgi", "baselines.raw_asgi:app"),
    "gobstopper-asgi": ("asgi", "apps.gobstopper_app:app"),
    "static-rsgi": ("rsgi", "apps.gobstopper_app_static:app"),
    "static-asgi": ("asgi", "apps.gobstopper_app_static:app"),
    "starlette-asgi": ("asgi", "baselines.starlette_app:app"),
}
PATHS = ("/plaintext", "/json")

# The child process: import the app, warm it up, then serve ``count`` requests through the fake protocol.
_CHILD = r"""
import os, sys
sys.path.insert(0, {here!r})
import importlib
module, _, attr = {target!r}.partition(":")
app = getattr(importlib.import_module(module), attr)
interface, path, count = {interface!r}, {path!r}, {count}


class Headers:
    def get(self, name, default=None):
        return default

    def items(self):
        return [("host", "127.0.0.1")]


class Scope:
    proto = "http"
    http_version = "1.1"
    scheme = "http"
    method = "GET"
    query_string = ""
    client = "127.0.0.1:5000"
    server = "127.0.0.1:8000"
    authority = None
    headers = Headers()

    def __init__(self, path):
        self.path = path


class Protocol:
    def response_bytes(self, status, headers, body):
        pass

    def response_str(self, status, headers, body):
        pass

    def response_empty(self, status, headers):
        pass


async def receive():
    return {{"type": "http.request", "body": b"", "more_body": False}}


async def send(message):
    pass


def step(coroutine):
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the app suspended: the fake protocol never does")


if interface == "rsgi":
    entry, scope, protocol = app.__rsgi__, Scope(path), Protocol()
    call = lambda: entry(scope, protocol)
else:
    entry = app
    scope = {{
        "type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }}
    call = lambda: entry(scope, receive, send)

for _ in range(200):  # warm-up: lazy start-up, caches, specialisation
    step(call())
for _ in range(count):
    step(call())
"""


def instructions(interface: str, target: str, path: str, count: int) -> int:
    """Total instructions of one child process serving ``count`` requests (after start-up and warm-up)."""
    code = _CHILD.format(here=str(HERE), target=target, interface=interface, path=path, count=count)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0", "GOBSTOPPER_NATIVE": os.environ.get("GOBSTOPPER_NATIVE", "1")}
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{target} {path} failed:\n{proc.stderr[-3000:]}")
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
        return int(match.group(1))


def per_request(interface: str, target: str, path: str, count: int) -> float:
    """Instructions of one request: the difference between 2N and N requests, divided by N."""
    return (instructions(interface, target, path, 2 * count) - instructions(interface, target, path, count)) / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="N (the runs serve N and 2N requests)")
    parser.add_argument("--only", default="", help="comma-separated app labels: " + ", ".join(APPS))
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated request paths")
    args = parser.parse_args(argv)
    labels = [label for label in APPS if not args.only or label in args.only.split(",")]
    print(f"gobstopper instructions v1  ({args.requests} vs {2 * args.requests} requests, valgrind callgrind)")
    print(f"{'app':<18}{'path':<12}{'instructions/request':>22}")
    for label in labels:
        interface, target = APPS[label]
        for path in args.paths.split(","):
            print(f"{label:<18}{path:<12}{per_request(interface, target, path, args.requests):>22,.0f}", flush=True)


if __name__ == "__main__":
    main()
