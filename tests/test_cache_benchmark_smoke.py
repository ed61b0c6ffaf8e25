"""Smoke test of benchmarks/cache.py: it runs end to end and reports a ratio per scenario (never asserts speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests._services import service_url

ROOT = Path(__file__).resolve().parent.parent


def test_cache_benchmark_smoke(tmp_path: Path) -> None:
    url = service_url("GOBSTOPPER_TEST_REDIS_URL")
    out = tmp_path / "cache.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cache.py"), "--smoke", "--redis", url, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert [r["scenario"] for r in report["results"]] == ["l1", "l2"]
    assert all(r["ratio"] > 0 for r in report["results"])
    assert "ratio" in done.stdout
