"""Charts in pages with pyecharts (the ``charts`` extra), drawn by ECharts served from the app, live over SSE.

``docs/charts.md`` has the whole story. In short::

    from pyecharts.charts import Line
    from gobstopper.extensions.charts import ChartFeed, Charts

    charts = app.register_extension(Charts())      # serves ECharts; {{ chart(c) }} and {{ charts_scripts() }}
    feed = ChartFeed(window=60)                     # live data for any number of charts, over one event stream

    @app.get("/")
    async def index(request):
        return charts.response(feed.add(Line().add_xaxis([]).add_yaxis("load", [])), live="/live")

    @app.get("/live")
    async def live(request):
        return feed.stream()

pyecharts is imported only by code that builds charts: this package itself needs msgspec only (option dicts work
without pyecharts).
"""

from ._markup import ChartHTML, encode_option
from .extension import CDN_URLS, ECHARTS_VERSION, CDNProvider, ChartExtension, Charts
from .live import OPTION_EVENT, POINTS_EVENT, ChartFeed, chart_option, chart_points

__all__ = [
    "CDN_URLS",
    "ECHARTS_VERSION",
    "OPTION_EVENT",
    "POINTS_EVENT",
    "CDNProvider",
    "ChartExtension",
    "ChartFeed",
    "ChartHTML",
    "Charts",
    "chart_option",
    "chart_points",
    "encode_option",
]
