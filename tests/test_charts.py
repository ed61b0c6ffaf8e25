"""The charts extension (gobstopper.extensions.charts): markup, escaping, the served scripts, CDN mode, live feeds."""

from __future__ import annotations

import asyncio
import base64
import datetime
import decimal
import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyecharts import options as opts
from pyecharts.charts import Bar, Gauge, Line, Page
from pyecharts.commons.utils import JsCode

from gobstopper import Gobstopper
from gobstopper.extensions.charts import (
    CDN_URLS,
    ECHARTS_VERSION,
    ChartExtension,
    ChartFeed,
    Charts,
    chart_option,
    chart_points,
    encode_option,
)
from gobstopper.extensions.charts.extension import STATIC
from gobstopper.extensions.openapi import OpenAPI
from gobstopper.http.sse import EventSourceResponse, ServerSentEvent
from gobstopper.testing import TestClient

BLOCK = re.compile(r'<script type="application/json" data-gobstopper-chart="([^"]*)">(.*?)</script>', re.S)
DIV = re.compile(r"<div ([^>]*)></div>")


def line(chart_id: str = "temps", title: str = "Temperatures", **init: Any) -> Line:
    return (
        Line(init_opts=opts.InitOpts(chart_id=chart_id, **init))
        .add_xaxis(["mon", "tue", "wed"])
        .add_yaxis("boiler", [70, 71.5, None])
        .add_yaxis("tank", [40, 41, 42])
        .set_global_opts(title_opts=opts.TitleOpts(title=title))
    )


def blocks(html: str) -> list[tuple[str, Any]]:
    """(chart id, decoded option) of every options block in ``html``."""
    return [(html_unescape(i), json.loads(payload)) for i, payload in BLOCK.findall(html)]


def html_unescape(value: str) -> str:
    import html

    return html.unescape(value)


def attributes(html: str) -> list[dict[str, str]]:
    import html as h

    return [{k: h.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', attrs)} for attrs in DIV.findall(html)]


def charts_app(**options: Any) -> tuple[Gobstopper, Charts]:
    app = Gobstopper(__name__)
    return app, app.register_extension(Charts(**options))


# -- markup ------------------------------------------------------------------------------------------------------


def test_a_chart_is_an_options_block_and_a_container_with_its_id() -> None:
    _, charts = charts_app()
    c = line(width="640px", height="320px")
    html = charts.chart(c)
    assert blocks(html) == [("temps", json.loads(c.dump_options()))]  # pyecharts' own JSON, value for value
    assert attributes(html) == [
        {
            "id": "temps",
            "class": "gobstopper-chart",
            "data-width": "640px",
            "data-height": "320px",
            "data-renderer": "canvas",
        }
    ]
    assert "style=" not in html  # sizes are applied by the script (a strict style-src forbids style attributes)
    assert html.__html__() == html  # Jinja2 inserts it as markup


def test_data_cannot_break_out_of_the_script_element() -> None:
    _, charts = charts_app()
    evil = "</script><script>alert(1)</script><!-- ' \" & </SCRIPT >"
    c = line(title=evil)
    c.add_yaxis(evil, [1, 2, 3])
    html = charts.chart(c)
    payload = BLOCK.findall(html)[0][1]
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert html.lower().count("</script") == 1  # the block's own end tag only
    option = json.loads(payload)
    assert option["title"][0]["text"] == evil  # JSON.parse gives the same text back
    assert option["series"][2]["name"] == evil


def test_attribute_values_are_escaped() -> None:
    _, charts = charts_app()
    html = charts.chart(line(chart_id='a"b<c>'), live='/live?x="1"&y=<2>', width='1px" onload="x')
    assert '"a&quot;b&lt;c&gt;"' in html
    (attrs,) = attributes(html)
    assert attrs["id"] == 'a"b<c>'
    assert attrs["data-live"] == '/live?x="1"&y=<2>'
    assert attrs["data-width"] == '1px" onload="x'
    assert "onload" not in re.sub(r'"[^"]*"', '""', html)  # only ever inside a quoted value


def test_several_charts_each_keep_their_own_id() -> None:
    _, charts = charts_app()
    page = Page().add(line("one"), Bar(init_opts=opts.InitOpts(chart_id="two")).add_xaxis(["a"]).add_yaxis("s", [1]))
    html = charts.chart(page) + charts.chart([line("three"), {"series": []}])
    ids = [i for i, _ in blocks(html)]
    assert ids[:3] == ["one", "two", "three"] and len(set(ids)) == 4
    assert [a["id"] for a in attributes(html)] == ids
    # pyecharts gives every chart a random id of its own
    assert len({i for i, _ in blocks(charts.chart([Line(), Line()]))}) == 2
    with pytest.raises(ValueError, match="one chart"):
        charts.chart([line("a"), line("b")], id="x")
    assert blocks(charts.chart(line("a"), id="mine"))[0][0] == "mine"


def test_option_dicts_need_no_pyecharts_object() -> None:
    _, charts = charts_app(default_height="250px")
    option = {
        "xAxis": {"type": "time"},
        "yAxis": {},
        "series": [
            {"type": "line", "data": [[datetime.date(2026, 1, 2), decimal.Decimal("1.50")], ["x", float("nan")]]}
        ],
    }
    ((chart_id, decoded),) = blocks(charts.chart(option))
    assert re.fullmatch(r"[0-9a-f]{32}", chart_id)
    assert decoded["series"][0]["data"] == [["2026-01-02", 1.5], ["x", None]]  # NaN is null, as pyecharts does
    assert attributes(charts.chart(option))[0]["data-height"] == "250px"
    assert attributes(charts.chart(option))[0]["data-width"] == "100%"
    with pytest.raises(TypeError, match="cannot hold a object"):
        charts.chart({"series": [object()]})
    with pytest.raises(TypeError, match="pyecharts chart"):
        charts.chart(42)


def test_javascript_in_an_option_is_refused() -> None:
    _, charts = charts_app()
    c = line().set_series_opts(label_opts=opts.LabelOpts(formatter=JsCode("function (p) { return p.value; }")))
    with pytest.raises(ValueError, match="script-src 'self'"):
        charts.chart(c)
    with pytest.raises(ValueError, match="JsCode"):
        chart_option("temps", {"tooltip": {"formatter": JsCode("function () {}")}})


def test_themes_and_renderers() -> None:
    _, charts = charts_app()
    assert "data-theme" not in charts.chart(line(theme="white"))  # pyecharts' default: ECharts' default theme
    assert attributes(charts.chart(line(theme="dark", renderer="svg")))[0] | {} == {
        "id": "temps",
        "class": "gobstopper-chart",
        "data-width": "900px",
        "data-height": "500px",
        "data-renderer": "svg",
        "data-theme": "dark",
    }
    _, dark = charts_app(theme="dark")
    assert attributes(dark.chart(line()))[0]["data-theme"] == "dark"
    with pytest.raises(ValueError, match="'canvas' or 'svg'"):
        charts.chart(line(), renderer="webgl")


def test_a_chart_needing_another_script_names_it() -> None:
    _, charts = charts_app()
    c = line(theme="macarons")
    with pytest.raises(ValueError, match=r"needs macarons.*extra_scripts=\{'macarons'"):
        charts.chart(c)
    _, themed = charts_app(extra_scripts={"macarons": "/static/macarons.js"})
    assert attributes(themed.chart(c))[0]["data-theme"] == "macarons"
    scripts = themed.scripts(root_path="")
    assert scripts.index("echarts.min.js") < scripts.index("/static/macarons.js") < scripts.index("gobstopper-charts")


def test_encode_option_matches_pyecharts_for_its_option_objects() -> None:
    c = (
        Bar()
        .add_xaxis(["a", "b"])
        .add_yaxis("s", [1, 2], itemstyle_opts=opts.ItemStyleOpts(color="#123456"))
        .set_global_opts(
            title_opts=opts.TitleOpts(title="t", subtitle="u"),
            datazoom_opts=[opts.DataZoomOpts(), opts.DataZoomOpts(type_="inside")],
            visualmap_opts=opts.VisualMapOpts(),
        )
    )
    assert json.loads(encode_option(c.get_options())) == json.loads(c.dump_options())


# -- scripts, the page helper, templates -----------------------------------------------------------------------------


def test_the_scripts_are_served_with_a_digest_url_and_a_long_cache() -> None:
    app, charts = charts_app()
    client = TestClient(app)
    for name in ("echarts.min.js", "gobstopper-charts.js"):
        url = charts.url(name, root_path="")
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:16]
        assert url == f"/_charts/{digest}/{name}"
        r = client.get(url, headers={"accept-encoding": "identity"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == (STATIC / name).read_bytes()
    r = client.get(charts.url("echarts.min.js", root_path=""), headers={"accept-encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "accept-encoding"
    assert int(r.headers["content-length"]) < (STATIC / "echarts.min.js").stat().st_size / 2
    stale = client.get("/_charts/0000000000000000/echarts.min.js")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"  # the current file, uncached
    for bad in ("/_charts/x/LICENSE-echarts.txt", "/_charts/x/..%2f..%2fextension.py", "/_charts/x/echarts.min.js.gz"):
        assert client.get(bad).status_code == 404, bad


def test_the_vendored_echarts_is_the_release_with_its_licence() -> None:
    source = (STATIC / "echarts.min.js").read_bytes()
    assert source.startswith(b"\n/*\n* Licensed to the Apache Software Foundation (ASF)")
    assert f'version="{ECHARTS_VERSION}"'.encode() in source or f'"{ECHARTS_VERSION}"'.encode() in source
    assert gzip.decompress((STATIC / "echarts.min.js.gz").read_bytes()) == source  # the two cannot drift apart
    assert "Apache License" in (STATIC / "LICENSE-echarts.txt").read_text()
    assert "Apache ECharts" in (STATIC / "NOTICE-echarts.txt").read_text()


def test_scripts_load_in_order_and_deferred() -> None:
    _, charts = charts_app()
    tags = re.findall(r"<script ([^>]*)></script>", charts.scripts(root_path="/mounted"))
    assert tags == [
        f'src="{charts.url("echarts.min.js", "/mounted")}" defer',
        f'src="{charts.url("gobstopper-charts.js", "/mounted")}" defer',
    ]
    assert tags[0].startswith('src="/mounted/_charts/')


def test_the_response_helper_is_a_whole_page_under_a_strict_csp() -> None:
    app, charts = charts_app()

    @app.get("/")
    async def index(request):
        return charts.response(line("one"), line("two"), title="<Plant> & co", live="/live")

    r = TestClient(app).get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "<title>&lt;Plant&gt; &amp; co</title>" in r.text
    assert [a["data-live"] for a in attributes(r.text)] == ["/live", "/live"]
    assert re.findall(r"<script (?!type)[^>]*>", r.text) == re.findall(r"<script [^>]*>", charts.scripts(""))
    assert (
        charts.response(status=201, headers={"Content-Security-Policy": "x"}).headers["content-security-policy"] == "x"
    )


def test_template_globals_render_charts_unescaped(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<head>{{ charts_scripts() }}</head>{{ chart(c, live=url_for('live')) }}")
    app = Gobstopper(__name__)
    app.init_templates(str(tmp_path))
    charts = app.register_extension(Charts())

    @app.get("/")
    async def index(request):
        return await app.render_template("page.html", c=line())

    @app.get("/live")
    async def live(request):
        return ChartFeed().stream()

    html = TestClient(app).get("/").text
    assert html.startswith(f'<head><script src="{charts.url("echarts.min.js", "")}" defer>')
    assert blocks(html)[0][0] == "temps" and attributes(html)[0]["data-live"] == "/live"


def test_a_mounted_app_serves_and_links_its_scripts_under_its_prefix(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("{{ charts_scripts() }}")
    sub = Gobstopper("sub")
    sub.init_templates(str(tmp_path))
    charts = sub.register_extension(Charts(prefix="/assets/"))

    @sub.get("/")
    async def index(request):
        return await sub.render_template("page.html")

    app = Gobstopper(__name__)
    app.mount("/sub", sub)
    client = TestClient(app)
    urls = re.findall(r'src="([^"]+)"', client.get("/sub/").text)
    assert urls == [charts.url("echarts.min.js", "/sub"), charts.url("gobstopper-charts.js", "/sub")]
    assert urls[0].startswith("/sub/assets/")
    assert all(client.get(url).status_code == 200 for url in urls)


def test_cdn_mode_pins_the_version_with_its_integrity_hash() -> None:
    app, charts = charts_app(cdn="jsdelivr")
    source = (STATIC / "echarts.min.js").read_bytes()
    sri = "sha384-" + base64.b64encode(hashlib.sha384(source).digest()).decode()
    assert charts.echarts_url() == f"https://cdn.jsdelivr.net/npm/echarts@{ECHARTS_VERSION}/dist/echarts.min.js"
    assert f'integrity="{sri}" crossorigin="anonymous" defer' in charts.scripts("")
    assert "script-src 'self' https://cdn.jsdelivr.net;" in charts.csp
    client = TestClient(app)
    assert client.get(charts.url("echarts.min.js", "")).status_code == 404  # not served: the CDN is
    assert client.get(charts.url("gobstopper-charts.js", "")).status_code == 200
    assert set(CDN_URLS) == {"jsdelivr", "unpkg", "cdnjs"}
    _, custom = charts_app(cdn="https://cdn.example/echarts.js")
    assert '<script src="https://cdn.example/echarts.js" defer>' in custom.scripts("")
    assert "script-src 'self' https://cdn.example;" in custom.csp
    with pytest.raises(ValueError, match="https:// URL"):
        Charts(cdn="http://cdn.example/echarts.js")
    with pytest.raises(ValueError, match="start with '/'"):
        Charts(prefix="charts")


def test_the_reference_constructor_and_the_extension_protocol() -> None:
    app = Gobstopper(__name__)
    charts = ChartExtension(app, "local", None, "100%", "300px")
    assert app.extensions["charts"] is charts and isinstance(charts, Charts)
    assert attributes(charts.chart({"series": []}))[0]["data-height"] == "300px"
    assert [r.name for r in app.route_table if r.name.startswith("charts.")] == ["charts.script"]


def test_the_script_route_stays_out_of_openapi_documents() -> None:
    app, _ = charts_app()
    openapi = app.register_extension(OpenAPI())

    @app.get("/hello")
    async def hello(request):
        return "hi"

    assert set(openapi.document()["paths"]) == {"/hello"}


def test_importing_the_extension_does_not_import_pyecharts() -> None:
    code = (
        "import sys, gobstopper.extensions.charts as c; from gobstopper import Gobstopper;"
        "app = Gobstopper('x'); app.register_extension(c.Charts()); c.Charts().chart({'series': []});"
        "print('pyecharts' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- live: events and feeds ---------------------------------------------------------------------------------------


def test_chart_points_and_chart_option_events() -> None:
    event = chart_points(line(), "thu", 72, None, limit=30, id=7)
    assert event.encode() == (
        'id: 7\nevent: chart-points\ndata: {"chart":"temps","x":["thu"],"y":[[72],[null]],"limit":30}\n\n'
    )
    assert chart_option("g", {"series": [{"data": [{"value": 1}]}]}).encode() == (
        'event: chart-option\ndata: {"chart":"g","option":{"series":[{"data":[{"value":1}]}]}}\n\n'
    )
    with pytest.raises(ValueError, match="one value per series"):
        chart_points("a", 1)
    with pytest.raises(ValueError, match="limit"):
        chart_points("a", 1, 2, limit=-1)
    with pytest.raises(TypeError, match="chart id"):
        chart_points(3, 1, 2)


def options_of(events: list[ServerSentEvent]) -> list[tuple[str, Any]]:
    return [(e.event or "", json.loads(e.data)) for e in events]


def test_a_feed_starts_from_the_charts_data_and_keeps_a_window() -> None:
    feed = ChartFeed(window=4)
    c = feed.add(line())
    assert options_of(feed.snapshot()) == [
        (
            "chart-option",
            {
                "chart": "temps",
                "option": {
                    "series": [
                        {"data": [["mon", 70], ["tue", 71.5], ["wed", None]]},
                        {"data": [["mon", 40], ["tue", 41], ["wed", 42]]},
                    ],
                    "xAxis": [{"data": ["mon", "tue", "wed"]}],
                },
            },
        )
    ]
    feed.push(c, "thu", 73, 43)
    feed.push("temps", "fri", 74)  # a missing value is a gap
    (snapshot,) = options_of(feed.snapshot())
    assert snapshot[1]["option"] == {
        "series": [
            {"data": [["tue", 71.5], ["wed", None], ["thu", 73], ["fri", 74]]},
            {"data": [["tue", 41], ["wed", 42], ["thu", 43], ["fri", None]]},
        ],
        "xAxis": [{"data": ["tue", "wed", "thu", "fri"]}],
    }
    with pytest.raises(ValueError, match="has 2 series, got 3"):
        feed.push(c, "sat", 1, 2, 3)
    with pytest.raises(ValueError, match="one value per series"):
        feed.push(c, "sat")
    with pytest.raises(KeyError, match="add it first"):
        feed.push("unknown", "sat", 1)
    with pytest.raises(ValueError):
        ChartFeed(window=0)


def test_a_feed_keeps_each_series_shape() -> None:
    feed = ChartFeed(window=3)
    bar = Bar(init_opts=opts.InitOpts(chart_id="bar")).add_xaxis(["a"]).add_yaxis("s", [1])
    feed.push(bar, "b", 2)  # added on first push
    assert options_of(feed.snapshot())[0][1]["option"] == {
        "series": [{"data": [1, 2]}],
        "xAxis": [{"data": ["a", "b"]}],
    }
    feed.add("time", series=1, category=False)
    feed.push("time", "2026-01-01T00:00:00", 5)
    assert options_of(feed.snapshot())[1][1]["option"] == {"series": [{"data": [["2026-01-01T00:00:00", 5]]}]}
    with pytest.raises(ValueError, match="series="):
        feed.add("other")


def test_options_are_replayed_last_one_only_and_gauges_keep_theirs() -> None:
    feed = ChartFeed()
    gauge = Gauge(init_opts=opts.InitOpts(chart_id="g")).add("", [("x", 1)])
    feed.set_option(gauge, {"series": [{"data": [{"value": 10}]}]})
    feed.set_option(gauge, {"series": [{"data": [{"value": 20}]}]})
    assert options_of(feed.snapshot()) == [
        ("chart-option", {"chart": "g", "option": {"series": [{"data": [{"value": 20}]}]}})
    ]
    with pytest.raises(KeyError):
        feed.set_option("nope", {})


async def _take(stream: Any, count: int) -> list[ServerSentEvent]:
    return [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(count)]


def test_a_stream_sends_the_state_then_every_change_and_unsubscribes_when_closed() -> None:
    async def scenario() -> None:
        feed = ChartFeed(window=10)
        c = feed.add(line())
        stream = feed.events()
        hello, state = await _take(stream, 2)
        assert hello.retry == 1000 and feed.clients == 1
        assert json.loads(state.data)["option"]["xAxis"] == [{"data": ["mon", "tue", "wed"]}]
        feed.push(c, "thu", 1, 2)
        feed.set_option(c, {"title": {"text": "new"}})
        points, option = await _take(stream, 2)
        assert (points.event, points.id, json.loads(points.data)["x"]) == ("chart-points", "1", ["thu"])
        assert (option.event, option.id) == ("chart-option", "2")
        await stream.aclose()  # what the SSE machinery does when the client leaves
        assert feed.clients == 0

    asyncio.run(scenario())


def test_a_slow_client_is_not_waited_for_and_gets_the_state_instead() -> None:
    async def scenario() -> None:
        feed = ChartFeed(window=100, queue_size=2)
        c = feed.add("c", series=1)
        stream = feed.events()
        await _take(stream, 2)  # hello, state
        for n in range(50):
            feed.push(c, n, n)  # nobody reads: the queue stays at 2
        (state,) = await _take(stream, 1)
        assert state.event == "chart-option"
        assert json.loads(state.data)["option"]["xAxis"] == [{"data": list(range(50))}]  # all of it, once
        feed.push(c, 50, 50)
        (points,) = await _take(stream, 1)
        assert json.loads(points.data)["x"] == [50]  # then changes again, none twice
        await stream.aclose()

    asyncio.run(scenario())


def test_closing_a_feed_ends_its_streams_and_answers_204_after() -> None:
    async def scenario() -> None:
        feed = ChartFeed()
        stream = feed.events()
        await _take(stream, 1)
        feed.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(stream.__anext__(), 5)
        assert feed.clients == 0
        assert feed.stream().status == 204

    asyncio.run(scenario())


def test_a_feed_served_by_the_app() -> None:
    app = Gobstopper(__name__)
    feed = ChartFeed(ping=None)
    feed.add("cpu", series=1)
    feed.push("cpu", "t1", 0.5)

    async def first_events():  # the feed's stream up to its state (the test client reads a body whole)
        async for event in feed.events():
            yield event
            if event.event == "chart-option":
                return

    @app.get("/once")
    async def once(request):
        return EventSourceResponse(first_events(), ping=None)

    @app.get("/live")
    async def live(request):
        return feed.stream()

    client = TestClient(app)
    r = client.get("/once")
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.text == (
        ": gobstopper charts\nretry: 1000\n\n"
        'event: chart-option\ndata: {"chart":"cpu","option":{"series":[{"data":[0.5]}],"xAxis":[{"data":["t1"]}]}}\n\n'
    )
    assert feed.clients == 0
    feed.close()
    assert client.get("/live").status_code == 204


def test_the_benchmark_runs_in_smoke_mode() -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "charts.py"
    out = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, check=True).stdout
    assert "| line, 1000 points x 2 series |" in out and "push: 100 streams / 1 stream = " in out


def test_the_reference_import_path() -> None:
    from gobstopper.extensions import ChartExtension as FromPackage

    assert FromPackage is Charts
    import gobstopper.extensions

    with pytest.raises(AttributeError):
        gobstopper.extensions.Nope
