"""Smoke test of benchmarks/run.py: it runs end to end and produces ratios, for every scenario.

Never asserts on speed: the machine is shared and noisy (see docs/performance.md §1).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:8000/plaintext
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50ms  200.00us   5.00ms   90.00%
    Req/Sec    40.00k     1.00k   42.00k    80.00%
  40000 requests in 1.00s, 5.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 0
  Non-2xx or 3xx responses: 7
Requests/sec:  39876.54
Transfer/sec:      5.00MB
"""


def test_parse_wrk() -> None:
    runner = load_runner()
    rps, problem = runner.parse_wrk(WRK_OUTPUT)
    assert rps == pytest.approx(39876.54)
    assert problem == "7 non-2xx responses; socket errors: connect 0, read 2, write 0, timeout 0"
    rps, problem = runner.parse_wrk("Requests/sec:  10.5\n")
    assert (rps, problem) == (10.5, None)
    with pytest.raises(ValueError):
        runner.parse_wrk("nothing")
    assert runner.parse_wrk_requests(WRK_OUTPUT) == 40000
    assert runner.parse_wrk_requests("nothing") is None


def test_select_pairs_and_comparisons() -> None:
    runner = load_runner()
    assert runner.select_pairs(None) == list(runner.PAIRS)
    rsgi = runner.select_pairs("granian-rsgi")
    assert rsgi and all(server == "granian-rsgi" for server, _ in rsgi)
    assert runner.select_pairs("uvicorn/gobstopper, raw-rsgi") == [
        ("granian-rsgi", "raw-rsgi"),
        ("uvicorn", "gobstopper"),
    ]
    with pytest.raises(ValueError, match="matches no pair"):
        runner.select_pairs("uvicorn/raw-rsgi")
    # Every comparison's sides exist, speak the server's protocol, and its scenario is known.
    for comp in runner.COMPARISONS:
        assert comp.scenario in runner.SCENARIOS
        for fw in (comp.framework, comp.baseline):
            assert runner.SERVERS[comp.server].interface in runner.FRAMEWORKS[fw].interfaces
    assert {c.scenario for c in runner.COMPARISONS} == set(runner.SCENARIOS)
    # A comparison runs only when both of its sides are selected.
    chosen = runner.select_comparisons(["routes1000", "json"], runner.select_pairs("granian-rsgi"))
    assert [(c.scenario, c.framework, c.baseline) for c in chosen] == [
        ("json", "gobstopper", "raw-rsgi"),
        ("routes1000", "gob-r1000", "gob-r10"),
        ("routes1000", "gob-r1000-py", "gob-r10-py"),
    ]
    assert runner.select_comparisons(["static1m"], runner.select_pairs("uvicorn/gob-static")) == []


def test_iqr() -> None:
    runner = load_runner()
    assert runner.iqr([]) is None
    assert runner.iqr([2.0]) == (2.0, 2.0)
    assert runner.iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)


def test_ratio_rows_and_report() -> None:
    runner = load_runner()
    comp = runner.Comparison("json", "uvicorn", "gobstopper", "starlette", 1.6)
    res = runner.ComparisonResult(comp)
    for a, b, ca, cb in ((90.0, 50.0, 2e-5, 4e-5), (110.0, 50.0, 2e-5, 4e-5), (100.0, 40.0, None, 4e-5)):
        res.add(runner.Slice(a, ca, None), runner.Slice(b, cb, None))
    row = res.row()
    assert row["ratio"] == pytest.approx(2.2)
    assert row["pair_ratios"] == pytest.approx([1.8, 2.2, 2.5])
    assert row["iqr"] == pytest.approx([2.0, 2.35])
    assert row["pairs"] == 3 and row["meets_target"] is True
    assert row["framework_median_rps"] == 100.0 and row["baseline_median_rps"] == 50.0
    assert row["cpu_ratio"] == pytest.approx(2.0) and row["framework_cpu_us"] == pytest.approx(20.0)
    missing = runner.ComparisonResult(runner.Comparison("json", "uvicorn", "gobstopper", "raw-asgi", 0.85))
    missing.missing = True
    empty = missing.row()
    assert (empty["ratio"], empty["iqr"], empty["meets_target"], empty["cpu_ratio"]) == (None, None, None, None)
    measurements = {
        ("json", "uvicorn", "gobstopper"): runner.Measurement("json", "uvicorn", "gobstopper", [90.0, 110.0, 100.0]),
        ("json", "uvicorn", "raw-asgi"): runner.Measurement("json", "uvicorn", "raw-asgi", [], ["status 500: b''"]),
    }
    micro = [
        {"router": "rust", "routes": 1000, "kind": "int", "path": "/json/42", "ns": 180.4, "target": 300.0,
         "error": None},
        {"router": "python", "routes": 1000, "kind": "int", "path": "/json/42", "ns": 2500.0, "target": None,
         "error": None},
    ]  # fmt: skip
    meta = {
        "format": 2, "slice": 1, "pairs": 3, "mode": "smoke", "native": True, "versions": {"python": "3"},
        "loadavg": {"before": [1.0, 2.0, 3.0], "after": None}, "micro": {"repeat": 7, "number": 1000},
    }  # fmt: skip
    report = runner.format_report(meta, measurements, [row, empty], micro)
    assert report.startswith("gobstopper benchmark v2  wrk -t1 -c64  slice=1s  pairs=3  mode=smoke  native=on")
    assert "load average (1/5/15 min): before 1.00 2.00 3.00  after -" in report
    assert (
        "json       uvicorn       gobstopper / starlette           2.20  2.00-2.35  >=1.60  ok          3"
        "   2.00        20/40" in report
    )
    assert "json       uvicorn       gobstopper / raw-asgi             n/a             >=0.85  missing     0" in report
    assert "json       uvicorn       gobstopper             100        90       110      3" in report
    assert "json       uvicorn       raw-asgi            failed         -         -      0  ! status 500" in report
    assert "rust      1000  /json/42 (int)                  180   <=300  ok" in report
    assert "python    1000  /json/42 (int)                 2500          -" in report


def test_emmett_is_opt_in() -> None:
    """``--emmett`` only adds comparisons (parsing alone never installs anything)."""
    runner = load_runner()
    rsgi_hello = ["--only", "granian-rsgi", "--scenarios", "plaintext,json"]
    plain = runner.parse_args(rsgi_hello)
    assert [(c.scenario, c.baseline) for c in plain.comparisons] == [("plaintext", "raw-rsgi"), ("json", "raw-rsgi")]
    assert all(fw != "emmett" for _, fw in runner.PAIRS)
    with_emmett = runner.parse_args(["--emmett", *rsgi_hello])
    assert [(c.scenario, c.baseline) for c in with_emmett.comparisons] == [
        ("plaintext", "raw-rsgi"),
        ("plaintext", "emmett"),
        ("json", "raw-rsgi"),
        ("json", "emmett"),
    ]
    for comp in with_emmett.comparisons[1::2]:
        assert (comp.server, comp.framework, comp.target, comp.strict, comp.op) == (
            "granian-rsgi", "gobstopper", 1.0, True, ">"
        )  # fmt: skip
    assert runner.parse_args(["--emmett", "--scenarios", "routes1000"]).comparisons == runner.select_comparisons(
        ["routes1000"], runner.PAIRS
    )
    with pytest.raises(SystemExit):
        runner.parse_args(["--only", "emmett,gobstopper"])  # emmett needs --emmett
    # Emmett is served from its own virtualenv, with the same granian command line as the other RSGI apps.
    emmett = runner.FRAMEWORKS["emmett"]
    assert emmett.python == runner.EMMETT_VENV / "bin" / "python"
    kind = runner.SERVERS["granian-rsgi"]
    assert kind.command("emmett_app:app", 8000, str(emmett.python)) == [
        str(emmett.python),
        *kind.command("emmett_app:app", 8000)[1:],
    ]
    assert "benchmarks/.emmett-venv/" in (ROOT / ".gitignore").read_text().splitlines()


def test_emmett_report_rows() -> None:
    runner = load_runner()
    comp = runner.Comparison("json", "granian-rsgi", "gobstopper", "emmett", 1.0, strict=True)
    rows = []
    for gob in (100.0, 120.0):
        res = runner.ComparisonResult(comp)
        res.add(runner.Slice(gob, None, None), runner.Slice(100.0, None, None))
        rows.append(res.row())
    assert [(r["ratio"], r["meets_target"], r["target_op"]) for r in rows] == [(1.0, False, ">"), (1.2, True, ">")]
    meta = {
        "format": 2, "slice": 1, "pairs": 1, "mode": "smoke", "native": True,
        "versions": {"python": "3", "granian": "2.8.7"}, "micro": None,
        "emmett": {"venv": "v", "versions": {"emmett": "2.8.2", "granian": "2.8.7"}, "same_granian": True},
    }  # fmt: skip
    report = runner.format_report(meta, {}, rows)
    assert "json       granian-rsgi  gobstopper / emmett              1.00  1.00-1.00   >1.00  BELOW       1" in report
    assert "1.20  1.20-1.20   >1.00  ok          1" in report
    assert "emmett (its own virtualenv): emmett 2.8.2  granian 2.8.7  (same granian as the other servers)" in report
    meta["emmett"] = {"venv": "v", "versions": {"emmett": "2.8.2", "granian": "3.0.0"}, "same_granian": False}
    assert "granian 3.0.0  ! NOT the granian of the other servers (2.8.7)" in runner.format_report(meta, {}, rows)
    del meta["emmett"]
    assert "emmett (" not in runner.format_report(meta, {}, rows)


def test_route_tables() -> None:
    runner = load_runner()
    table_mod = runner.load_routes_table()
    for n in (1, 10, 1000):
        table = table_mod.route_table(n)
        assert len(table) == n and len({p for p, _ in table}) == n
        assert table[0] == (table_mod.TARGET, ("GET",))
    big = table_mod.route_table(1000)
    assert table_mod.route_table(10) == big[:10]
    kinds = {"static": 0, "typed": 0, "str": 0}
    for pattern, _ in big:
        if "<" not in pattern:
            kinds["static"] += 1
        elif any(c in pattern for c in ("<int:", "<uuid:", "<path:")):
            kinds["typed"] += 1
        else:
            kinds["str"] += 1
    assert all(count >= 100 for count in kinds.values()), kinds


def test_micro_benchmark_checks_each_lookup() -> None:
    runner = load_runner()
    rows = runner.micro_benchmark(repeat=1, number=10)
    assert {(r["router"], r["routes"], r["kind"]) for r in rows} == {
        (router, size, kind) for router in ("rust", "python") for size in (10, 1000) for kind in ("static", "int")
    }
    for row in rows:
        if row["router"] == "rust" and importlib.util.find_spec("gobstopper_rs") is None:
            assert row["ns"] is None and row["error"]
        else:
            assert row["error"] is None and row["ns"] > 0


@pytest.mark.servers
def test_smoke_run_covers_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--smoke",
            "--scenarios",
            "json,routes1000,typed1000,static10k,static1m",
            "--only",
            "granian-rsgi,uvicorn/gob-static,uvicorn/starlette-static",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RATIOS" in result.stdout and "LOOKUP" in result.stdout
    data = json.loads(out.read_text())
    assert data["meta"]["mode"] == "smoke" and data["meta"]["pairs"] == 1
    assert {(r["scenario"], r["server"], r["framework"], r["baseline"]) for r in data["ratios"]} == {
        ("json", "granian-rsgi", "gobstopper", "raw-rsgi"),
        ("routes1000", "granian-rsgi", "gob-r1000", "gob-r10"),
        ("routes1000", "granian-rsgi", "gob-r1000-py", "gob-r10-py"),
        ("typed1000", "granian-rsgi", "gob-r1000", "raw-rsgi"),
        ("static10k", "granian-rsgi", "gob-static", "raw-rsgi-file"),
        ("static10k", "uvicorn", "gob-static", "starlette-static"),
        ("static1m", "granian-rsgi", "gob-static", "raw-rsgi-file"),
        ("static1m", "uvicorn", "gob-static", "starlette-static"),
    }
    for row in data["ratios"]:
        assert isinstance(row["ratio"], float) and row["ratio"] > 0
        assert row["pairs"] == 1
    for res in data["results"]:
        assert res["errors"] == []
        assert len(res["rps"]) == 1
    assert len(data["lookup"]) == 8


def test_memory_is_its_own_section() -> None:
    """``--memory`` runs only the memory check: Gobstopper on granian-rsgi and uvicorn, plaintext and json."""
    runner = load_runner()
    args = runner.parse_args(["--memory"])
    assert args.comparisons == [] and args.marks == (20_000, 200_000)
    assert args.memory_runs == [
        ("granian-rsgi", "plaintext"),
        ("granian-rsgi", "json"),
        ("uvicorn", "plaintext"),
        ("uvicorn", "json"),
    ]
    smoke = runner.parse_args(["--memory", "--smoke", "--only", "uvicorn", "--scenarios", "json"])
    assert smoke.marks == (2_000, 20_000) and smoke.memory_runs == [("uvicorn", "json")]
    for bad in (["--scenarios", "routes1000"], ["--only", "raw-rsgi"], ["--emmett"]):
        with pytest.raises(SystemExit):
            runner.parse_args(["--memory", *bad])
    # Without --memory nothing changes: every scenario, no memory runs.
    plain = runner.parse_args([])
    assert plain.scenarios == list(runner.SCENARIOS) and not hasattr(plain, "memory_runs")


def test_memory_rows_and_report() -> None:
    runner = load_runner()
    run = runner.MemoryRun("granian-rsgi", "gobstopper", "json", (20_000, 200_000), server_pid=10, pid=11)
    run.start_kib, run.requests, run.rss_kib = 30_720, [41_234, 201_000], [40_960, 46_080]
    row = run.row()
    assert (row["path"], row["first_requests"], row["second_requests"]) == ("/json", 41_234, 201_000)
    assert (row["start_rss_mib"], row["first_rss_mib"], row["second_rss_mib"]) == (30.0, 40.0, 45.0)
    assert row["ratio"] == pytest.approx(1.125) and row["meets_target"] is False and row["target_op"] == "<="
    half = runner.MemoryRun("uvicorn", "gobstopper", "plaintext", (20_000, 200_000))
    half.requests, half.rss_kib, half.errors = [20_500], [40_960], ["a wrk run completed no request"]
    missing = half.row()
    assert (missing["ratio"], missing["meets_target"], missing["second_rss_mib"]) == (None, None, None)
    meta = {
        "format": 2, "mode": "full", "native": True, "versions": {"python": "3"},
        "loadavg": {"before": [1.0, 2.0, 3.0], "after": [1.5, 2.0, 3.0]}, "memory": {"marks": [20_000, 200_000]},
    }  # fmt: skip
    report = runner.format_memory_report(meta, [row, missing])
    assert report.startswith("gobstopper benchmark v2  wrk -t1 -c64  memory  marks=20,000/200,000  mode=full")
    assert "server        path          rss@20k  rss@200k  ratio  target  status   requests@20k requests@200k" in report
    assert "granian-rsgi  /json            40.0      45.0  1.125  <=1.10  ABOVE          41,234       201,000" in report
    assert (
        "uvicorn       /plaintext       40.0         -    n/a  <=1.10  missing        20,500             -"
        "  ! a wrk run completed no request" in report
    )


def test_read_rss_and_children() -> None:
    runner = load_runner()
    assert runner.read_rss_kib(os.getpid()) > 0
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in runner.child_pids(os.getpid())
        assert runner.process_cpu_seconds(child.pid) is not None
    finally:
        child.kill()
        child.wait()
    assert runner.read_rss_kib(child.pid) is None


@pytest.mark.servers
def test_memory_smoke_run(tmp_path: Path) -> None:
    """``--memory --smoke`` against real servers: the table and JSON are complete (never judges the figures)."""
    out = tmp_path / "memory.json"
    result = subprocess.run(
        [sys.executable, str(RUN), "--memory", "--smoke", "--scenarios", "json", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RATIOS" not in result.stdout and "LOOKUP" not in result.stdout
    assert "MEMORY (VmRSS of the process running the app" in result.stdout
    table = result.stdout.split("MEMORY", 1)[1].splitlines()[2:]
    assert [line.split()[:2] for line in table] == [["granian-rsgi", "/json"], ["uvicorn", "/json"]]
    data = json.loads(out.read_text())
    assert data["meta"]["mode"] == "smoke" and data["meta"]["memory"]["marks"] == [2_000, 20_000]
    assert (data["results"], data["ratios"], data["lookup"]) == ([], [], None)
    rows = {row["server"]: row for row in data["memory"]}
    assert set(rows) == {"granian-rsgi", "uvicorn"}
    for row in rows.values():
        assert row["errors"] == [] and row["path"] == "/json"
        assert 2_000 <= row["first_requests"] < row["second_requests"] and row["second_requests"] >= 20_000
        for key in ("start_rss_mib", "first_rss_mib", "second_rss_mib", "ratio"):
            assert isinstance(row[key], float) and row[key] > 0, key
        assert isinstance(row["meets_target"], bool)
    # granian serves from a worker, its main process's child; uvicorn --workers 1 from the process started.
    assert rows["granian-rsgi"]["pid"] != rows["granian-rsgi"]["server_pid"]
    assert rows["uvicorn"]["pid"] == rows["uvicorn"]["server_pid"]


def test_templates_benchmark_smoke(tmp_path: Path) -> None:
    """benchmarks/templates.py runs end to end (render ratios, streamed-page memory); no assertion on speed."""
    out = tmp_path / "templates.json"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "templates.py"), "--smoke", "--only", "render", "--json", str(out)],
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    results = json.loads(out.read_text())
    assert results["render"]["render_template_over_bare_jinja2"]["median"] > 0
