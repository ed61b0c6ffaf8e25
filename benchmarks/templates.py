"""Template benchmarks (issue 12): render cost against bare Jinja2, sync against async Jinja2, and the memory of a
streamed 10,000-row page under concurrency.

1. ``render`` and ``instructions``: a TechEmpower fortunes-style template rendered by
   ``await app.render_template(...)`` (context processors, request binding, the ``Response``) against
   ``template.render(...)`` of a bare ``jinja2.Environment`` on the same template, in the same process, as
   interleaved A/B slices; the headline is the median of the per-slice ratios (target: at most 1.10). The same
   slices compare Jinja2's async environment (``render_async``) with its sync one, which is how the default
   environment was chosen (docs/templates.md). ``instructions`` counts the CPU instructions of one render of each
   under valgrind (``(count(2N) - count(N)) / N``): the same ratio without the noise of a shared machine.
2. ``memory``: ``examples/streamed_rows.py`` on a real server (granian rsgi, then uvicorn), one worker. The
   ``VmRSS`` of the process running the app is read after 1 client fetched the page 20 times one after another,
   then after 20 clients fetched it 5 times each at once (target: within 10%).

Usage::

    .venv/bin/python benchmarks/templates.py                 # both
    .venv/bin/python benchmarks/templates.py --only render   # or --only instructions, --only memory
    .venv/bin/python benchmarks/templates.py --smoke         # a quick end-to-end check, not a measurement

Ratios only: absolute figures on a shared machine mean nothing across runs (docs/performance.md §1).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

FORTUNES = """<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>
<tr><th>id</th><th>message</th></tr>
{% for fortune in fortunes %}<tr><td>{{ fortune.id }}</td><td>{{ fortune.message }}</td></tr>
{% endfor %}</table></body></html>"""

MESSAGES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
    "Additional fortune added at request time.",
]


def fortunes() -> list[dict[str, Any]]:
    rows = [{"id": n, "message": m} for n, m in enumerate(MESSAGES, start=1)]
    return sorted(rows, key=lambda r: r["message"])


def _slices(variants: dict[str, Any], slices: int, per_slice: int) -> dict[str, list[float]]:
    """Seconds per call of each variant, per slice; variants take turns and alternate their order."""

    async def run() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for name in names:  # warm-up: compile, fill caches
            for _ in range(per_slice // 4 + 1):
                await variants[name]()
        for i in range(slices):
            for name in names if i % 2 == 0 else reversed(names):
                call = variants[name]
                started = time.perf_counter()
                for _ in range(per_slice):
                    await call()
                times[name].append((time.perf_counter() - started) / per_slice)
        return times

    return asyncio.run(run())


def bench_render(smoke: bool) -> dict[str, Any]:
    import jinja2

    from gobstopper import Gobstopper
    from gobstopper.templates._context import _request

    folder = Path(tempfile.mkdtemp(prefix="gobstopper-fortunes-"))
    (folder / "fortunes.html").write_text(FORTUNES)
    app = Gobstopper("bench")
    app.init_templates(str(folder), auto_reload=False)
    _request.set(None)  # as in a handler: the binding middleware already ran
    bare_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, auto_reload=False)
    bare = bare_env.get_template("fortunes.html")
    async_env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, auto_reload=False, enable_async=True
    )
    async_template = async_env.get_template("fortunes.html")
    data = fortunes()

    async def gobstopper_render() -> Any:
        return await app.render_template("fortunes.html", fortunes=data)

    async def bare_render() -> Any:
        return bare.render(fortunes=data)

    async def bare_async_render() -> Any:
        return await async_template.render_async(fortunes=data)

    assert asyncio.run(gobstopper_render()).body == bare.render(fortunes=data)
    slices, per_slice = (3, 50) if smoke else (301, 200)
    times = _slices(
        {"render_template": gobstopper_render, "bare_sync": bare_render, "bare_async": bare_async_render},
        slices,
        per_slice,
    )
    ours = [a / b for a, b in zip(times["render_template"], times["bare_sync"])]
    asyncs = [a / b for a, b in zip(times["bare_async"], times["bare_sync"])]
    return {
        "render_template_over_bare_jinja2": _summary(ours),
        "async_env_over_sync_env": _summary(asyncs),
        "bare_sync_us_median": statistics.median(times["bare_sync"]) * 1e6,
    }


def _summary(ratios: list[float]) -> dict[str, float]:
    ordered = sorted(ratios)
    q1, _, q3 = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else (ordered[0],) * 3
    return {"median": statistics.median(ordered), "q1": q1, "q3": q3, "slices": len(ordered)}


_COUNT_CODE = """
import asyncio, sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
import jinja2
from templates import FORTUNES, fortunes
from gobstopper import Gobstopper
folder = Path(tempfile.mkdtemp(prefix="gobstopper-fortunes-"))
(folder / "fortunes.html").write_text(FORTUNES)
data = fortunes()
if {variant!r} == "render_template":
    app = Gobstopper("bench")
    app.init_templates(str(folder), auto_reload=False)
    async def call():
        return await app.render_template("fortunes.html", fortunes=data)
else:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, auto_reload=False)
    template = env.get_template("fortunes.html")
    async def call():
        return template.render(fortunes=data)
def step(n):
    for _ in range(n):
        coro = call()
        try:
            coro.send(None)
        except StopIteration:
            pass
step(50)
step({n})
"""


def count_instructions(variant: str, n: int) -> int:
    """Instructions to run ``n`` renders (plus start-up), counted by valgrind's callgrind: no noise."""
    code = _COUNT_CODE.format(bench=str(Path(__file__).parent), variant=variant, n=n)
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"valgrind failed:\n{proc.stderr[-2000:]}")
    return int(match.group(1))


def bench_instructions(smoke: bool) -> dict[str, Any]:
    n = 50 if smoke else 500
    per_render = {}
    for variant in ("render_template", "bare_sync"):
        per_render[variant] = (count_instructions(variant, 2 * n) - count_instructions(variant, n)) / n
    return {
        "instructions_per_render": per_render,
        "render_template_over_bare_jinja2": per_render["render_template"] / per_render["bare_sync"],
    }


# -- memory of the streamed page ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _app_pid(pid: int) -> int:
    # granian runs the app in a worker process (the only child); uvicorn in the process itself.
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return int(children[0]) if children else pid


def _fetch(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or body.count(b"<tr><td>") != 10_000:
            raise RuntimeError(f"bad answer: {response.status}, {len(body)} bytes")
        return len(body)
    finally:
        conn.close()


def _serve(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "uvicorn":
        cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
               "streamed_rows:app"]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "granian", "--interface", "rsgi", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "streamed_rows:app"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES))
    proc = subprocess.Popen(cmd, cwd=EXAMPLES, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _fetch(port, "/rows")
            return proc
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def bench_memory(smoke: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    sequential, clients, each = (4, 20, 1) if smoke else (20, 20, 5)
    for kind in ("granian-rsgi", "uvicorn"):
        port = _free_port()
        proc = _serve(kind, port)
        try:
            pid = _app_pid(proc.pid)
            for _ in range(sequential):
                _fetch(port, "/rows")
            one = _rss_kib(pid)
            peak = one
            errors: list[BaseException] = []

            def client(port: int = port, errors: list[BaseException] = errors) -> None:
                try:
                    for _ in range(each):
                        _fetch(port, "/rows")
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=client) for _ in range(clients)]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                peak = max(peak, _rss_kib(pid))
                time.sleep(0.02)
            if errors:
                raise errors[0]
            twenty = _rss_kib(pid)
            results[kind] = {
                "rss_1_client_mib": one / 1024,
                "rss_after_20_clients_mib": twenty / 1024,
                "peak_during_20_clients_mib": peak / 1024,
                "ratio_after": twenty / one,
                "ratio_peak": peak / one,
            }
        finally:
            proc.terminate()
            proc.wait(10)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["render", "instructions", "memory"])
    parser.add_argument("--smoke", action="store_true", help="a quick end-to-end check, not a measurement")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if args.only in (None, "render"):
        results["render"] = bench_render(args.smoke)
        r = results["render"]
        print("RENDER (fortunes, 13 rows; median of per-slice ratios, IQR)")
        for key in ("render_template_over_bare_jinja2", "async_env_over_sync_env"):
            s = r[key]
            print(f"  {key:36s} {s['median']:.3f}  [{s['q1']:.3f} .. {s['q3']:.3f}]  ({s['slices']} slices)")
        print(f"  (bare sync render: {r['bare_sync_us_median']:.1f} µs here; meaningless across runs)")
    if args.only in (None, "instructions"):
        results["instructions"] = bench_instructions(args.smoke)
        i = results["instructions"]
        print("INSTRUCTIONS per render (valgrind callgrind, deterministic)")
        for variant, count in i["instructions_per_render"].items():
            print(f"  {variant:36s} {count:,.0f}")
        print(f"  {'render_template_over_bare_jinja2':36s} {i['render_template_over_bare_jinja2']:.3f}")
    if args.only in (None, "memory"):
        results["memory"] = bench_memory(args.smoke)
        print("MEMORY (VmRSS of the app's process, streamed 10,000-row page)")
        for kind, m in results["memory"].items():
            print(
                f"  {kind:13s} 1 client {m['rss_1_client_mib']:.1f} MiB, after 20 clients "
                f"{m['rss_after_20_clients_mib']:.1f} MiB (x{m['ratio_after']:.3f}), peak x{m['ratio_peak']:.3f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
