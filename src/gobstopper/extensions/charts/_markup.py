"""A chart as HTML: its ECharts option as JSON in a ``<script type="application/json">`` block, and its container.

Rules:

1. Nothing in the markup runs: the option is data (``type="application/json"`` is never executed), read by the
   extension's static ``gobstopper-charts.js``; so pages pass ``script-src 'self'`` with no hash or nonce.
2. The JSON cannot end its ``<script>`` element: ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``,
   ``\\u0026`` (valid JSON escapes, so ``JSON.parse`` gives back the same strings; Django's ``json_script`` does the
   same). The HTML standard ends a script element's text at ``</script`` in any case (§13.2.5.4 "script data
   less-than sign state") and treats ``<!--`` specially: neither can appear.
3. Attribute values (id, sizes, theme, live URL) are HTML-escaped, quotes included.
4. The option is encoded as pyecharts' own ``dump_options`` would (its option objects unwrapped, ``None``-valued keys
   dropped, NaN and infinities as ``null``, dates in ISO 8601) but with msgspec, and without JavaScript: a
   ``JsCode`` (a JavaScript function in the option) is a ``ValueError``, because a strict CSP forbids evaluating
   it. ECharts' string templates (``"{b}: {c}"``) replace most formatter functions.

pyecharts is imported only when an option holds one of its objects, so raw option dicts need no pyecharts.
"""

from __future__ import annotations

import datetime
import decimal
import html
import re
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

#: pyecharts' InitOpts theme names that ECharts knows without a theme script ("white"/"light" are the default).
BUILTIN_THEMES = {"white": None, "light": None, "dark": "dark"}
#: Size of a chart given as a plain option dict, when nothing else says.
DEFAULT_WIDTH = "100%"
DEFAULT_HEIGHT = "400px"

_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}
_ESCAPED = re.compile(rb"[<>&]")


class ChartHTML(str):
    """Markup that Jinja2 inserts as is (it has ``__html__``, like ``markupsafe.Markup``)."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def _enc_hook(obj: Any) -> Any:
    module = type(obj).__module__ or ""
    if module.startswith("pyecharts"):
        from pyecharts.commons.utils import JsCode, remove_key_with_none_value  # type: ignore[import-untyped]
        from pyecharts.options.series_options import BasicOpts  # type: ignore[import-untyped]

        if isinstance(obj, JsCode):
            raise ValueError(
                "a chart option holds JavaScript (pyecharts JsCode), which a page under a strict "
                "Content-Security-Policy (script-src 'self') cannot run; use an ECharts string template "
                "such as formatter='{b}: {c}' instead"
            )
        if isinstance(obj, BasicOpts):
            if isinstance(obj.opts, (list, tuple)):
                return [remove_key_with_none_value(item) for item in obj.opts]
            return remove_key_with_none_value(obj.opts)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, without importing numpy
    if callable(tolist):
        return tolist()
    raise TypeError(f"a chart option cannot hold a {type(obj).__name__}: {obj!r}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="number")


def encode_option(option: Any) -> bytes:
    """The ECharts option (a pyecharts chart's ``get_options()``, or a dict) as JSON bytes.

    Raises:
        ValueError: the option holds a pyecharts ``JsCode``.
        TypeError: it holds a value that has no JSON form.
    """
    return _encoder.encode(option)


def script_json(data: bytes) -> str:
    """JSON bytes made safe as the text of a ``<script>`` element (rule 2)."""
    text = data.decode()
    return text.translate(_ESCAPES) if _ESCAPED.search(data) else text


def is_chart(obj: Any) -> bool:
    """A pyecharts chart (anything with ``get_options()`` and a ``chart_id``)."""
    return callable(getattr(obj, "get_options", None)) and hasattr(obj, "chart_id")


def chart_id(chart: Any) -> str:
    """The id of a chart's container: a pyecharts chart's ``chart_id``, or a string as given."""
    if isinstance(chart, str):
        return chart
    if is_chart(chart):
        return str(chart.chart_id)
    raise TypeError(f"expected a pyecharts chart or a chart id, not {type(chart).__name__}")


def dependencies(chart: Any) -> list[str]:
    """The scripts a pyecharts chart needs besides ECharts (theme, map or extension names)."""
    found = getattr(chart, "js_dependencies", None)
    return [name for name in getattr(found, "items", ()) if name != "echarts"]


def render(
    chart: Any,
    *,
    id: str | None = None,
    width: str | None = None,
    height: str | None = None,
    theme: str | None = None,
    renderer: str | None = None,
    live: str | None = None,
) -> ChartHTML:
    """One chart's markup: the options block, then the container ``<div>``.

    Args:
        chart: a pyecharts chart, or an ECharts option dict.
        id: the container's id (default: a pyecharts chart's ``chart_id``, else a random one).
        width, height: CSS lengths (default: the chart's ``InitOpts``, else 100% x 400px).
        theme: an ECharts theme name (default: the chart's; ``white``/``light`` mean the default theme).
        renderer: ``canvas`` or ``svg`` (default: the chart's, else canvas).
        live: the URL of an event stream that updates this chart (see :mod:`~gobstopper.extensions.charts.live`).

    Raises:
        TypeError: ``chart`` is neither a pyecharts chart nor a dict.
        ValueError: the option holds JavaScript, or the renderer is unknown.
    """
    if is_chart(chart):
        option = chart.get_options()
        id = id or str(chart.chart_id)
        width = width or getattr(chart, "width", None)
        height = height or getattr(chart, "height", None)
        if theme is None:
            theme = getattr(chart, "theme", None)
        renderer = renderer or getattr(chart, "renderer", None)
    elif isinstance(chart, dict):
        option = chart
        id = id or uuid.uuid4().hex
    else:
        raise TypeError(f"expected a pyecharts chart or an ECharts option dict, not {type(chart).__name__}")
    renderer = renderer or "canvas"
    if renderer not in ("canvas", "svg"):
        raise ValueError(f"an ECharts renderer is 'canvas' or 'svg', not {renderer!r}")
    theme = BUILTIN_THEMES.get(theme, theme) if theme else None
    payload = script_json(encode_option(option))
    e = html.escape
    attributes = [
        f'id="{e(id)}"',
        'class="gobstopper-chart"',
        f'data-width="{e(width or DEFAULT_WIDTH)}"',
        f'data-height="{e(height or DEFAULT_HEIGHT)}"',
        f'data-renderer="{renderer}"',
    ]
    if theme:
        attributes.append(f'data-theme="{e(theme)}"')
    if live:
        attributes.append(f'data-live="{e(live)}"')
    return ChartHTML(
        f'<script type="application/json" data-gobstopper-chart="{e(id)}">{payload}</script>'
        f"<div {' '.join(attributes)}></div>"
    )


def charts_in(obj: Any) -> Iterable[Any]:
    """The charts to render for ``obj``: itself, or each chart of a list, tuple or pyecharts ``Page``."""
    if is_chart(obj) or isinstance(obj, dict):
        return (obj,)
    if isinstance(obj, (list, tuple)) or type(obj).__name__ == "Page":
        return list(obj)
    raise TypeError(f"expected a pyecharts chart, an ECharts option dict or a list of them, not {type(obj).__name__}")
