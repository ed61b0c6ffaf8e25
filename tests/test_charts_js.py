"""gobstopper-charts.js in a real headless Chromium: drawing, the two live events, charts added later, escaping.

The browser's requests are answered by the app in-process (``page.route`` hands them to the test client), so these
run without a server; the page's CSP header is the real one. ``tests/test_charts_browser.py`` runs the example on a
real granian server.
"""

from __future__ import annotations

from typing import Any

from pyecharts import options as opts
from pyecharts.charts import Bar, Line

from compat_tests.browser import artifact_path
from gobstopper import Gobstopper
from gobstopper.extensions.charts import Charts
from gobstopper.testing import TestClient

ORIGIN = "http://charts.test"
EVIL = "</script><script>window.__pwned = 1</script><!-- \" ' &amp;"


def make_app() -> Gobstopper:
    app = Gobstopper(__name__)
    charts = app.register_extension(Charts(default_width="600px", default_height="300px"))
    bar = (
        Bar(init_opts=opts.InitOpts(chart_id="bar"))
        .add_xaxis(["a", "b", "c"])
        .add_yaxis("one", [1, 2, 3])
        .add_yaxis("two", [10, 20, 30])
        .set_global_opts(title_opts=opts.TitleOpts(title=EVIL))
    )
    line = Line(init_opts=opts.InitOpts(chart_id="line")).add_xaxis(["a", "b"]).add_yaxis("s", [1, 2])
    timed = {
        "xAxis": {"type": "time"},
        "yAxis": {},
        "series": [{"type": "line", "data": [["2026-01-01T00:00:00Z", 1], ["2026-01-01T00:01:00Z", 2]]}],
    }

    @app.get("/")
    async def index(request):
        return charts.response(bar, line, timed, title="js")

    @app.get("/more")
    async def more(request):
        return str(charts.chart({"series": [{"type": "pie", "data": [{"name": "x", "value": 1}]}]}, id="late"))

    return app


def serve_in_process(page: Any, app: Gobstopper) -> None:
    client = TestClient(app)

    def handle(route: Any) -> None:
        request = route.request
        path = request.url[len(ORIGIN) :]
        r = client.request(request.method, path, headers={"accept-encoding": "identity"})
        route.fulfill(status=r.status_code, headers=dict(r.headers), body=r.content)

    page.route(ORIGIN + "/**", handle)


def option(page: Any, chart: str, expression: str) -> Any:
    return page.evaluate(f"() => {{ const o = GobstopperCharts.get('{chart}').getOption(); return {expression}; }}")


def test_the_script_draws_applies_events_and_draws_late_charts(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    serve_in_process(page, make_app())
    page.goto(ORIGIN + "/")
    page.wait_for_function("() => window.GobstopperCharts && GobstopperCharts.ids().length === 3")
    ids = page.evaluate("() => GobstopperCharts.ids()")
    assert ids[:2] == ["bar", "line"] and len(ids) == 3
    timed = ids[2]

    # Escaping: the title is the text as given, and nothing in it ran.
    assert option(page, "bar", "o.title[0].text") == EVIL
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.evaluate("() => document.querySelectorAll('script:not([src]):not([type])').length") == 0
    # Sizes from the data attributes (set through the CSSOM).
    assert page.evaluate("() => getComputedStyle(document.getElementById('bar')).height") == "300px"

    # Bare values on a category axis; a series without a value gets a gap, so it stays in step; limit trims.
    apply = "([name, message]) => GobstopperCharts.apply(name, message)"
    assert page.evaluate(apply, ["chart-points", {"chart": "bar", "x": ["d", "e"], "y": [[4, 5]], "limit": 4}])
    assert option(page, "bar", "[o.xAxis[0].data, o.series[0].data, o.series[1].data]") == [
        ["b", "c", "d", "e"],
        [2, 3, 4, 5],
        [20, 30, None, None],
    ]
    # [x, y] pairs (pyecharts' line charts) stay pairs.
    page.evaluate(apply, ["chart-points", {"chart": "line", "x": ["c"], "y": [[3]], "limit": 0}])
    assert option(page, "line", "[o.xAxis[0].data, o.series[0].data]") == [
        ["a", "b", "c"],
        [["a", 1], ["b", 2], ["c", 3]],
    ]
    # A time axis: pairs, no category data.
    page.evaluate(apply, ["chart-points", {"chart": timed, "x": ["2026-01-01T00:02:00Z"], "y": [[3]], "limit": 2}])
    assert option(page, timed, "o.series[0].data") == [["2026-01-01T00:01:00Z", 2], ["2026-01-01T00:02:00Z", 3]]
    # chart-option merges; unknown charts and events are ignored.
    page.evaluate(apply, ["chart-option", {"chart": "bar", "option": {"title": {"text": "new"}}}])
    assert option(page, "bar", "[o.title[0].text, o.series[0].data.length]") == ["new", 4]
    assert page.evaluate(apply, ["chart-points", {"chart": "nope", "x": [1], "y": [[1]]}]) is False
    assert page.evaluate(apply, ["something", {"chart": "bar"}]) is False

    # A chart added to the page later (as a Datastar or htmx patch would) is drawn.
    page.evaluate(
        """async () => {
            const html = await (await fetch('/more')).text();
            const holder = document.createElement('div');
            holder.innerHTML = html;
            document.body.appendChild(holder);
        }"""
    )
    page.wait_for_function("() => GobstopperCharts.ids().includes('late')")
    page.wait_for_function("() => document.querySelector('#late canvas') !== null")
    assert option(page, "bar", "o.title[0].text") == "new"  # the others were left as they were
    # A chart whose options block is rewritten in place (a morph) is drawn again with the new option.
    page.evaluate(
        """() => {
            const block = document.querySelector('script[data-gobstopper-chart="line"]');
            const option = JSON.parse(block.textContent);
            option.series[0].data = [["a", 9], ["b", 8]];
            block.firstChild.nodeValue = JSON.stringify(option);
        }"""
    )
    page.wait_for_function("() => GobstopperCharts.get('line').getOption().series[0].data[0][1] === 9")
    page.screenshot(path=str(artifact_path("charts-js.png")), full_page=True)
    assert errors == []
