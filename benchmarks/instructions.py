"""Deterministic per-request cost: CPU instructions per request, counted by valgrind, no server, no noise.

wrk ratios (``run.py``) are the figures that count, but on a shared machine they swing by ±0.1 from run to
run. This script answers "did that change make the hot path cheaper?" exactly: it drives an app in-process with a
minimal fake protocol (no event loop: the coroutine is stepped by hand) for N and for 2N requests, each under
``valgrind --tool=callgrind``, and prints ``(instructions(2N) - instructions(N)) / N``. Start-up and import
costs cancel out; what remains is one request through adapter + core + handler, the same for every run.

The fake protocols cost almost nothing themselves, so the raw baselines show the floor of Python code on each
interface; the server's own work (HTTP parsing, the event loop) is not counted at all. Divide the figures by the
baselines' to see how much Python we add; the wrk ratio also depends on what the server costs.

The framework peers (``blacksheep-asgi``, ``litestar-asgi``: the apps ``run.py --peers`` serves) run from their own
virtualenvs, which ``run.py``'s peer set-up makes on first use (from PyPI); they are counted only when asked for,
with ``--peers`` or by name in ``--only``. A peer is started first through the ASGI lifespan protocol inside an
asyncio event loop (Litestar's start-up needs one; BlackSheep prepares its handlers there); the requests are then
stepped by hand exactly as for the other apps, the loop idle.

Usage::

    .venv/bin/python benchmarks/instructions.py                  # every project app x path, 2,000 requests
    .venv/bin/python benchmarks/instructions.py --only gobstopper-rsgi --requests 5000
    .venv/bin/python benchmarks/instructions.py --peers          # and BlackSheep and Litestar beside them
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
APPS: dict[str, tuple[str, str]] = {
    "raw-rsgi": ("rsgi", "baselines.raw_rsgi:app"),
    "gobstopper-rsgi": ("rsgi", "apps.gobstopper_app:app"),
    "raw-asgi": ("asgi", "baselines.raw_asgi:app"),
    "gobstopper-asgi": ("asgi", "apps.gobstopper_app:app"),
    "mc-rsgi": ("rsgi", "apps.gobstopper_app_mission_control:app"),
    "mc-asgi": ("asgi", "apps.gobstopper_app_mission_control:app"),
    "static-rsgi": ("rsgi", "apps.gobstopper_app_static:app"),
    "static-asgi": ("asgi", "apps.gobstopper_app_static:app"),
    "middleware-rsgi": ("rsgi", "apps.gobstopper_app_middleware:app"),
    "security-rsgi": ("rsgi", "apps.gobstopper_app_security:app"),
    "security-asgi": ("asgi", "apps.gobstopper_app_security:app"),
    "sec-parts-rsgi": ("rsgi", "apps.gobstopper_app_security_parts:app"),
    "starlette-asgi": ("asgi", "baselines.starlette_app:app"),
}
#: peer label -> (interface, module:attr, name in run.PEERS): served from that peer's virtualenv, started by lifespan.
PEER_APPS: dict[str, tuple[str, str, str]] = {
    "blacksheep-asgi": ("asgi", "baselines.blacksheep_app:app", "blacksheep"),
    "litestar-asgi": ("asgi", "baselines.litestar_app:app", "litestar"),
}
PATHS = ("/plaintext", "/json")

# The child process: import the app, warm it up, then serve ``count`` requests through the fake protocol.
_CHILD = r"""
import os, sys
sys.path.insert(0, {here!r})
import importlib
module, _, attr = {target!r}.partition(":")
app = getattr(importlib.import_module(module), attr)
interface, path, count, lifespan = {interface!r}, {path!r}, {count}, {lifespan!r}


class Headers:
    def get(self, name, default=None):
        return default

    def get_all(self, name):
        return []

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


# Work a server's event loop does besides requests (Mission Control's tick: counting and arming its timing, every
# 20 ms in a server): done here every 64 requests, so the printed figure includes it.
tick = getattr(getattr(app, "extensions", {{}}).get("mission_control"), "tick", None)


class CheckingProtocol:
    def response_bytes(self, status, headers, body):
        self.status = status

    response_str = response_bytes

    def response_empty(self, status, headers):
        self.status = status


async def checking_send(message):
    if message["type"] == "http.response.start":
        checking_send.status = message["status"]


# A failing app would be measured as its error path: check the answer once, outside the counted loop.
def check_answer():
    checked = CheckingProtocol()
    step(entry(scope, checked) if interface == "rsgi" else entry(scope, receive, checking_send))
    status = checked.status if interface == "rsgi" else checking_send.status
    if status != 200:
        raise RuntimeError(f"{{path}} answered {{status}}, not 200")


def serve():
    for _ in range(200):  # warm-up: lazy start-up, caches, specialisation
        step(call())
    check_answer()
    if tick is None:
        for _ in range(count):
            step(call())
        return
    for _ in range(count // 64):
        for _ in range(64):  # the same loop as above: only tick() is added
            step(call())
        tick()
    for _ in range(count % 64):
        step(call())


if lifespan:
    import asyncio

    async def main():
        # ASGI lifespan start-up on a real loop; the requests are then stepped by hand as above, the loop idle.
        inbox, events = asyncio.Queue(), []
        await inbox.put({{"type": "lifespan.startup"}})
        started = asyncio.Event()

        async def send_lifespan(message):
            events.append(message["type"])
            started.set()

        task = asyncio.ensure_future(
            app({{"type": "lifespan", "asgi": {{"version": "3.0", "spec_version": "2.0"}}, "state": {{}}}},
                inbox.get, send_lifespan)
        )
        await asyncio.wait_for(started.wait(), 30)
        if events != ["lifespan.startup.complete"]:
            raise RuntimeError(f"lifespan start-up failed: {{events}}")
        serve()
        await inbox.put({{"type": "lifespan.shutdown"}})
        await asyncio.wait_for(task, 30)

    asyncio.run(main())
else:
    serve()
"""


def instructions(
    interface: str, target: str, path: str, count: int, python: str = sys.executable, lifespan: bool = False
) -> int:
    """Total instructions of one child process serving ``count`` requests (after start-up and warm-up).

    Args:
        interface: ``rsgi`` or ``asgi``.
        target: ``module:attribute`` under this folder.
        path: The request path.
        count: How many requests the child serves after the warm-up.
        python: The interpreter of the child (a peer's virtualenv for a peer).
        lifespan: Run the ASGI lifespan start-up first, in an asyncio loop (the peers).
    """
    code = _CHILD.format(here=str(HERE), target=target, interface=interface, path=path, count=count, lifespan=lifespan)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0", "GOBSTOPPER_NATIVE": os.environ.get("GOBSTOPPER_NATIVE", "1")}
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-c", code],
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


def per_request(
    interface: str, target: str, path: str, count: int, python: str = sys.executable, lifespan: bool = False
) -> float:
    """Instructions of one request: the difference between 2N and N requests, divided by N."""
    twice = instructions(interface, target, path, 2 * count, python, lifespan)
    return (twice - instructions(interface, target, path, count, python, lifespan)) / count


def peer_python(name: str) -> str:
    """The interpreter of a peer's virtualenv, made ready by ``run.py``'s :func:`setup_peer` (may install it)."""
    sys.path.insert(0, str(HERE))
    import run  # benchmarks/run.py: the one place that knows how peers are installed

    entry = run.setup_peer(run.PEERS[name])
    versions = "  ".join(f"{k} {v}" for k, v in entry["versions"].items())
    print(f"{name} (its own virtualenv): {versions}", flush=True)
    return str(run.PEERS[name].python)


def select_labels(only: str, peers: bool) -> list[str]:
    """The labels to count: ``only`` (comma-separated; empty: every project app), plus every peer with ``peers``.

    Raises:
        ValueError: If ``only`` names an unknown label.
    """
    named = [label.strip() for label in only.split(",") if label.strip()]
    unknown = [label for label in named if label not in APPS and label not in PEER_APPS]
    if unknown:
        raise ValueError(f"unknown labels {unknown}; choose from {', '.join([*APPS, *PEER_APPS])}")
    labels = [label for label in APPS if not named or label in named]
    return labels + [label for label in PEER_APPS if label in named or peers]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="N (the runs serve N and 2N requests)")
    parser.add_argument("--only", default="", help="comma-separated app labels: " + ", ".join([*APPS, *PEER_APPS]))
    parser.add_argument("--peers", action="store_true", help="also count the peers: " + ", ".join(PEER_APPS))
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated request paths")
    args = parser.parse_args(argv)
    try:
        labels = select_labels(args.only, args.peers)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"gobstopper instructions v1  ({args.requests} vs {2 * args.requests} requests, valgrind callgrind)")
    pythons = {label: peer_python(PEER_APPS[label][2]) for label in labels if label in PEER_APPS}
    print(f"{'app':<18}{'path':<12}{'instructions/request':>22}")
    for label in labels:
        interface, target = PEER_APPS[label][:2] if label in PEER_APPS else APPS[label]
        python, lifespan = pythons.get(label, sys.executable), label in PEER_APPS
        for path in args.paths.split(","):
            count = per_request(interface, target, path, args.requests, python, lifespan)
            print(f"{label:<18}{path:<12}{count:>22,.0f}", flush=True)


if __name__ == "__main__":
    main()
