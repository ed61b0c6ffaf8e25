"""A real-time dashboard: pyecharts charts in a template, updated live over Server-Sent Events, with no CDN.

Run it with ``gobstopper run realtime_dashboard:app`` (or ``granian --interface rsgi realtime_dashboard:app``) and
open /. Two temperature sensors report readings; the page shows their history (a line chart), the boiler's latest
reading (a gauge) and both latest readings (a bar chart). Every chart follows one event stream, ``/live``.

Readings come from a simulated sensor every ``DASHBOARD_INTERVAL`` seconds (1 by default; ``0`` turns it off) and
from anyone who posts one::

    curl -X POST localhost:8000/readings -H 'content-type: application/json' -d '{"sensor": "tank", "value": 42}'

ECharts itself is served by the app (``Charts()``, from the vendored release), and the page passes a strict
Content-Security-Policy: no inline script, scripts from the app only.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from pyecharts import options as opts
from pyecharts.charts import Bar, Gauge, Line

from gobstopper import Gobstopper, StaticFileMiddleware
from gobstopper.extensions.charts import ChartFeed, Charts

HERE = Path(__file__).resolve().parent
SENSORS = ("boiler", "tank")
#: The latest reading of each sensor (°C).
readings = {"boiler": 70.0, "tank": 40.0}
INTERVAL = float(os.environ.get("DASHBOARD_INTERVAL", "1"))

app = Gobstopper(__name__)
app.init_templates("templates")
app.add_middleware(StaticFileMiddleware(HERE / "static", url_prefix="/static"), priority=10)
charts = app.register_extension(Charts())
feed = ChartFeed(window=60)  # the last 60 readings, for every page and for pages opened later

history = (
    Line(
        init_opts=opts.InitOpts(
            chart_id="history", width="100%", height="360px", animation_opts=opts.AnimationOpts(animation=False)
        )
    )
    .add_xaxis([])
    .add_yaxis("boiler", [], is_symbol_show=False, is_smooth=True)
    .add_yaxis("tank", [], is_symbol_show=False, is_smooth=True)
    .set_global_opts(
        title_opts=opts.TitleOpts(title="Temperatures (°C)"),
        tooltip_opts=opts.TooltipOpts(trigger="axis"),
        yaxis_opts=opts.AxisOpts(type_="value", min_=0, max_=120),
    )
    .set_series_opts(label_opts=opts.LabelOpts(is_show=False))
)
boiler = (
    Gauge(init_opts=opts.InitOpts(chart_id="boiler", width="360px", height="300px"))
    .add(
        "boiler",
        [("°C", readings["boiler"])],
        min_=0,
        max_=120,
        detail_label_opts=opts.GaugeDetailOpts(formatter="{value} °C", offset_center=[0, "70%"]),
    )
    .set_global_opts(title_opts=opts.TitleOpts(title="Boiler"), legend_opts=opts.LegendOpts(is_show=False))
)
latest = (
    Bar(init_opts=opts.InitOpts(chart_id="latest", width="360px", height="300px"))
    .add_xaxis(list(SENSORS))
    .add_yaxis("latest", [readings[s] for s in SENSORS])
    .set_global_opts(title_opts=opts.TitleOpts(title="Latest readings"), legend_opts=opts.LegendOpts(is_show=False))
)
feed.add(history)


class Reading(msgspec.Struct):
    sensor: Literal["boiler", "tank"]
    value: Annotated[float, msgspec.Meta(ge=-50, le=150)]


def record(sensor: str, value: float) -> None:
    """Take one reading: a point on the history (both sensors' latest values), the gauge and the bars."""
    readings[sensor] = round(value, 1)
    feed.push(history, time.strftime("%H:%M:%S"), *(readings[s] for s in SENSORS))
    feed.set_option(boiler, {"series": [{"data": [{"name": "°C", "value": readings["boiler"]}]}]})
    feed.set_option(latest, {"series": [{"data": [readings[s] for s in SENSORS]}]})


@app.get("/")
async def index(request):
    response = await app.render_template("dashboard.html", history=history, boiler=boiler, latest=latest)
    response.headers["Content-Security-Policy"] = charts.csp
    return response


@app.get("/live")
async def live(request):
    return feed.stream()


@app.get("/status")
async def status(request):
    """The latest readings and how many pages are following the live stream."""
    return {"readings": readings, "clients": feed.clients}


@app.post("/readings")
async def post_reading(request, reading: Reading):
    record(reading.sensor, reading.value)
    return {"sensor": reading.sensor, "value": readings[reading.sensor]}, 201


async def simulate() -> None:
    """A sensor that drifts around its set point: one reading of each sensor per interval."""
    rng = random.Random(7)
    set_points = dict(readings)
    while True:
        for sensor in SENSORS:
            step = rng.gauss(0, 2) + (set_points[sensor] - readings[sensor]) * 0.1
            readings[sensor] = round(min(max(readings[sensor] + step, 0.0), 120.0), 1)
        record("boiler", readings["boiler"])
        await asyncio.sleep(INTERVAL)


_tasks: list[asyncio.Task[None]] = []


@app.on_startup
async def start_sensor() -> None:
    if INTERVAL > 0:
        _tasks.append(asyncio.get_running_loop().create_task(simulate()))


@app.on_shutdown
async def stop_sensor() -> None:
    feed.close()
    for task in _tasks:
        task.cancel()
