"""Smoke test of benchmarks/run.py: it runs end to end and produces ratios.

Never asserts on speed: the machine is shared and noisy (see PERFORMANCE.md).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
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


def test_select_pairs() -> None:
    runner = load_runner()
    assert runner.select_pairs(None) == list(runner.PAIRS)
    assert runner.select_pairs("granian-rsgi") == [("granian-rsgi", "raw-rsgi"), ("granian-rsgi", "gobstopper")]
    assert runner.select_pairs("uvicorn/gobstopper, raw-rsgi") == [
        ("granian-rsgi", "raw-rsgi"),
        ("uvicorn", "gobstopper"),
    ]
    with pytest.raises(ValueError, match="matches no pair"):
        runner.select_pairs("uvicorn/raw-rsgi")


def test_compute_ratios_only_for_selected_sides() -> None:
    runner = load_runner()
    m = {
        ("json", "uvicorn", "gobstopper"): runner.Measurement("json", "uvicorn", "gobstopper", [90.0, 110.0, 100.0]),
        ("json", "uvicorn", "starlette"): runner.Measurement("json", "uvicorn", "starlette", [50.0, 50.0, 40.0]),
        ("json", "uvicorn", "raw-asgi"): runner.Measurement("json", "uvicorn", "raw-asgi", []),
    }
    ratios = runner.compute_ratios(m, ["json"])
    assert [(r["baseline"], r["ratio"], r["meets_target"]) for r in ratios] == [
        ("raw-asgi", None, None),
        ("starlette", 2.0, True),
    ]
    assert ratios[0]["round_ratios"] == []
    assert ratios[1]["round_ratios"] == pytest.approx([1.8, 2.2, 2.5])
    report = runner.format_report(
        {"format": 1, "duration": 1, "rounds": 3, "mode": "smoke", "native": True, "versions": {"python": "3"}},
        m,
        ratios,
    )
    assert "json       uvicorn       gobstopper / starlette       2.00  >=1.60  ok       1.80-2.50" in report
    assert "json       uvicorn       gobstopper / raw-asgi         n/a  >=0.85  missing" in report


@pytest.mark.servers
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/setup installs it)")
def test_smoke_run_produces_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--smoke",
            "--only",
            "granian-rsgi/raw-rsgi,granian-rsgi/gobstopper,uvicorn/starlette,uvicorn/gobstopper",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RATIOS" in result.stdout
    assert "gobstopper / raw-rsgi" in result.stdout
    data = json.loads(out.read_text())
    assert data["meta"]["mode"] == "smoke"
    assert {(r["scenario"], r["server"], r["baseline"]) for r in data["ratios"]} == {
        ("plaintext", "granian-rsgi", "raw-rsgi"),
        ("json", "granian-rsgi", "raw-rsgi"),
        ("plaintext", "uvicorn", "starlette"),
        ("json", "uvicorn", "starlette"),
    }
    for row in data["ratios"]:
        assert isinstance(row["ratio"], float) and row["ratio"] > 0
    for res in data["results"]:
        assert res["errors"] == []
        assert len(res["rps"]) == 1
