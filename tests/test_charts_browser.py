"""examples/realtime_dashboard.py in a real headless Chromium, served by a real granian RSGI server.

The browser may reach loopback only: every other request is aborted and recorded, and none may be needed. The
charts must be drawn (canvases with painted pixels, read back from the page), change when readings are posted
(over the page's event stream, without a reload), under the page's strict CSP (no violation reported).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from compat_tests.browser import artifact_path
from compat_tests.harness import RealServer, ServerKey

pytestmark = pytest.mark.servers

#: Counts the painted pixels of a chart's canvas and fingerprints them (FNV-1a over the RGBA bytes).
PIXELS = """(id) => {
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!canvas) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, hash = 2166136261;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] !== 0) { painted++; colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]); }
    for (let k = 0; k < 4; k++) hash = Math.imul(hash ^ data[i + k], 16777619) >>> 0;
  }
  return {painted: painted, colours: colours.size, hash: hash, size: canvas.width * canvas.height};
}"""

#: Records CSP violations from the first script on.
CSP_WATCH = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', (e) =>"
    " window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[RealServer]:
    # No simulated sensor: the charts change only when the test posts readings.
    server = RealServer(ServerKey("granian-rsgi", "realtime_dashboard:app", "1"), tmp_path)
    server.extra_env["DASHBOARD_INTERVAL"] = "0"
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _pixels(page: Any, chart: str) -> dict[str, int]:
    found = page.evaluate(PIXELS, chart)
    assert found is not None, f"#{chart} has no canvas"
    return found  # type: ignore[no-any-return]


def _settled(page: Any, chart: str) -> dict[str, int]:
    """The chart's pixels once two reads 200 ms apart agree (animations over)."""
    previous = _pixels(page, chart)
    for _ in range(50):
        page.wait_for_timeout(200)
        current = _pixels(page, chart)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"#{chart} never stopped changing")


def test_the_dashboard_draws_and_updates_live_with_no_network(dashboard: RealServer, page: Any) -> None:
    origin = f"http://127.0.0.1:{dashboard.port}"
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", only_loopback)
    page.add_init_script(CSP_WATCH)

    response = page.goto(origin + "/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_function("() => window.GobstopperCharts && GobstopperCharts.ids().length === 3", timeout=15_000)
    # The stream's first events (the feed's state) reached the page: the live connection is up.
    page.wait_for_function(
        "() => GobstopperCharts.get('boiler').getOption().series[0].data[0].value === 70", timeout=15_000
    )

    before = {chart: _settled(page, chart) for chart in ("history", "boiler", "latest")}
    for chart, pixels in before.items():
        assert pixels["painted"] > 1000 and pixels["colours"] > 3, (chart, pixels)  # drawn, not blank
    assert page.evaluate("() => GobstopperCharts.get('history').getOption().series[0].data.length") == 0

    with httpx.Client(base_url=origin) as client:
        for value in (20.0, 95.5, 40.0):
            r = client.post("/readings", json={"sensor": "boiler", "value": value})
            assert r.status_code == 201, r.text
    page.wait_for_function(
        "() => GobstopperCharts.get('history').getOption().series[0].data.join() === '20,95.5,40'",
        timeout=15_000,
    )
    page.wait_for_function(
        "() => GobstopperCharts.get('boiler').getOption().series[0].data[0].value === 40", timeout=15_000
    )
    after = {chart: _settled(page, chart) for chart in ("history", "boiler", "latest")}
    assert after["history"]["hash"] != before["history"]["hash"]  # the line is drawn
    assert after["history"]["painted"] > before["history"]["painted"]
    assert after["boiler"]["hash"] != before["boiler"]["hash"]  # the needle moved
    assert after["latest"]["hash"] != before["latest"]["hash"]  # the bar shrank

    shot = artifact_path("charts-realtime-dashboard-granian-rsgi.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert outside == []  # nothing beyond loopback was asked for
    assert page.evaluate("() => window.__violations") == []
    assert errors == []
