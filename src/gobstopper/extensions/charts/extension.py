"""The charts extension: pyecharts charts in pages, ECharts served by the app, a page response helper.

Rules:

1. ECharts comes from the app itself by default: the released ``echarts.min.js`` (Apache ECharts, Apache-2.0,
   vendored in ``static/`` with its licence and notice, and a gzip copy the static resolver sends to clients that
   accept it). No PyPI package ships it without heavy dependencies (pyecharts loads it from its CDN), hence the copy.
2. Its URL holds a digest of the file (``/_charts/<digest>/echarts.min.js``), so it is cached for a year
   (``immutable``) and a new version is a new URL. A stale digest still gets the current file, uncached.
3. Pages need no inline script (``script-src 'self'``): charts are data blocks read by ``gobstopper-charts.js``
   (``_markup.py``), and the scripts are loaded with ``defer`` in document order.
4. ``cdn=`` points at a public CDN instead, pinned to the same ECharts version with its Subresource Integrity hash;
   :attr:`Charts.csp` then names the CDN's origin.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ...core.blueprint import Blueprint
from ...http.errors import NotFound
from ...http.response import FileResponse, Response
from ...templates import current_request
from . import _markup
from ._markup import ChartHTML

__all__ = ["CDN_URLS", "ECHARTS_VERSION", "CDNProvider", "ChartExtension", "Charts"]

STATIC = Path(__file__).resolve().parent / "static"
#: The vendored ECharts release (``static/echarts.min.js``, from the ``6.1.0`` tag's ``dist/``).
ECHARTS_VERSION = "6.1.0"
#: Where ``cdn=`` names lead (the vendored version, so the integrity hash matches).
CDN_URLS = {
    "jsdelivr": f"https://cdn.jsdelivr.net/npm/echarts@{ECHARTS_VERSION}/dist/echarts.min.js",
    "unpkg": f"https://unpkg.com/echarts@{ECHARTS_VERSION}/dist/echarts.min.js",
    "cdnjs": f"https://cdnjs.cloudflare.com/ajax/libs/echarts/{ECHARTS_VERSION}/echarts.min.js",
}
#: The reference's names for where ECharts comes from (``"local"``: this app).
CDNProvider = Literal["local", "jsdelivr", "unpkg", "cdnjs"]

ECHARTS = "echarts.min.js"
INIT = "gobstopper-charts.js"
_FILES = (ECHARTS, INIT)
#: A year: the longest lifetime RFC 9111 §5.2.2.1 caches are expected to honour; ``immutable`` is RFC 8246.
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def _digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:16]


@functools.cache
def echarts_integrity() -> str:
    """The Subresource Integrity value of the vendored ``echarts.min.js`` (``sha384-...``)."""
    return "sha384-" + base64.b64encode(hashlib.sha384((STATIC / ECHARTS).read_bytes()).digest()).decode()


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


class Charts:
    """Charts in pages: ``{{ chart(c) }}`` and ``{{ charts_scripts() }}`` in templates, :meth:`response` for a page
    of charts, and the scripts served under ``prefix``.

    Register it with ``app.register_extension(Charts())``, or as the reference does, ``ChartExtension(app)``.

    Args:
        app: register on this app now (Flask's pattern; else ``app.register_extension(charts)``).
        cdn: where pages load ECharts: ``"local"`` (this app, the default: pages work with no internet), a CDN
            name (``"jsdelivr"``, ``"unpkg"``, ``"cdnjs"``: ECharts |version| with its integrity hash) or a URL.
        theme: the ECharts theme of charts that set none (``"dark"``; others need their script in
            ``extra_scripts``).
        default_width, default_height: CSS sizes of charts rendered without one (default: the chart's
            ``InitOpts``, 900px x 500px in pyecharts; 100% x 400px for option dicts).
        prefix: where the scripts are served.
        extra_scripts: scripts pages load after ECharts, by the pyecharts dependency name they provide (theme
            and map scripts, ``echarts-gl``...): ``{"macarons": "/static/echarts/macarons.js"}``.

    Raises:
        ValueError: ``cdn`` is neither ``"local"``, a known CDN nor an https URL; ``prefix`` does not start with
            ``/``.
    """

    name = "charts"

    def __init__(
        self,
        app: Any = None,
        cdn: str = "local",
        theme: str | None = None,
        default_width: str | None = None,
        default_height: str | None = None,
        *,
        prefix: str = "/_charts",
        extra_scripts: Mapping[str, str] | None = None,
    ) -> None:
        if cdn != "local" and cdn not in CDN_URLS and not cdn.startswith("https://"):
            raise ValueError(f"cdn is 'local', one of {sorted(CDN_URLS)} or an https:// URL, not {cdn!r}")
        if not prefix.startswith("/"):
            raise ValueError(f"the charts prefix must start with '/', not {prefix!r}")
        self.cdn = cdn
        self.theme = theme
        self.default_width = default_width
        self.default_height = default_height
        self.prefix = prefix.rstrip("/")
        self.extra_scripts = dict(extra_scripts or {})
        if theme and theme not in _markup.BUILTIN_THEMES:
            self._check_scripts([theme], "(every)")
        self.app: Any = None
        self.blueprints: list[Blueprint] = []
        if app is not None:
            app.register_extension(self)

    # -- the extension protocol --------------------------------------------------------------------------------

    def init_app(self, app: Any) -> None:
        """Serve the scripts under ``prefix`` and add the template globals ``chart`` and ``charts_scripts``."""
        self.app = app
        bp = Blueprint("charts", url_prefix=self.prefix)
        served = _FILES if self.cdn == "local" else (INIT,)

        async def script(request: Any, digest: str, name: str) -> FileResponse:
            if name not in served:  # a fixed list of package files: nothing from the request reaches the disk
                raise NotFound()
            cache = IMMUTABLE if digest == _digest(name) else "no-cache"
            return FileResponse(STATIC / name, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

        bp.get("/<digest>/<name>", name="script")(script)
        try:
            from ..openapi.decorators import exclude
        except ImportError:  # pragma: no cover - the openapi package is part of gobstopper
            pass
        else:
            exclude(script)  # framework plumbing, not part of the app's API
        self.blueprints = [bp]
        app.add_template_global(self.chart, "chart")
        app.add_template_global(self.scripts, "charts_scripts")

    # -- URLs and policy --------------------------------------------------------------------------------------------

    def url(self, name: str, root_path: str | None = None) -> str:
        """The URL of a served script (``echarts.min.js`` or ``gobstopper-charts.js``), with its digest."""
        if root_path is None:
            root_path = _root_path()
        return f"{root_path}{self.prefix}/{_digest(name)}/{name}"

    def echarts_url(self, root_path: str | None = None) -> str:
        """Where pages load ECharts from (this app, or the CDN)."""
        if self.cdn == "local":
            return self.url(ECHARTS, root_path)
        return CDN_URLS.get(self.cdn, self.cdn)

    @property
    def csp(self) -> str:
        """A Content-Security-Policy for pages of charts: scripts from the app (and the CDN, if used) only."""
        script_src = "'self'" if self.cdn == "local" else f"'self' {_origin(self.echarts_url(''))}"
        return (
            f"default-src 'none'; script-src {script_src}; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
        )

    # -- markup -----------------------------------------------------------------------------------------------------

    def scripts(self, root_path: str | None = None) -> ChartHTML:
        """The ``<script>`` elements a page of charts needs, once per page (template global ``charts_scripts``):
        ECharts, the ``extra_scripts``, then the extension's init script, all ``defer``."""
        src = html.escape(self.echarts_url(root_path))
        if self.cdn in CDN_URLS:
            tags = [f'<script src="{src}" integrity="{echarts_integrity()}" crossorigin="anonymous" defer></script>']
        else:
            tags = [f'<script src="{src}" defer></script>']
        tags += [f'<script src="{html.escape(url)}" defer></script>' for url in self.extra_scripts.values()]
        tags.append(f'<script src="{html.escape(self.url(INIT, root_path))}" defer></script>')
        return ChartHTML("".join(tags))

    def chart(
        self,
        chart: Any,
        *,
        id: str | None = None,
        width: str | None = None,
        height: str | None = None,
        theme: str | None = None,
        renderer: str | None = None,
        live: str | None = None,
    ) -> ChartHTML:
        """A chart's markup (template global ``chart``): its options block and its container, with its own id.

        Args:
            chart: a pyecharts chart (``Line()``, ``Bar()``, ``Grid()``, ``Timeline()``...), an ECharts option
                dict, or a list (or pyecharts ``Page``) of them, rendered one after the other.
            id: the container's id (default: the chart's ``chart_id``; a random one for a dict). Not for lists.
            width, height: CSS sizes (default: the extension's defaults, else the chart's own).
            theme: an ECharts theme name (default: the chart's, else the extension's).
            renderer: ``"canvas"`` or ``"svg"`` (default: the chart's).
            live: the URL of an event stream updating the chart (``ChartFeed.stream()``, ``chart_points``).

        Raises:
            TypeError: ``chart`` is not a chart, a dict or a list of them.
            ValueError: the option holds JavaScript (``JsCode``); the chart needs a script that is not in
                ``extra_scripts`` (a theme or map); ``id`` given for several charts.
        """
        items = list(_markup.charts_in(chart))
        if id is not None and len(items) != 1:
            raise ValueError("id= names one chart; a list of charts uses each chart's own id")
        parts = []
        for item in items:
            chart_theme = theme
            if chart_theme is None:  # the chart's own, unless it is pyecharts' default (then the extension's)
                own = getattr(item, "theme", None)
                chart_theme = self.theme if own in (None, "white", "light") else own
            needed = _markup.dependencies(item)
            if chart_theme and chart_theme not in _markup.BUILTIN_THEMES:
                needed.append(chart_theme)  # a theme is a script of its own (pyecharts loads it from its CDN)
            self._check_scripts(needed, _markup.chart_id(item) if _markup.is_chart(item) else "")
            parts.append(
                _markup.render(
                    item,
                    id=id,
                    width=width or self.default_width,
                    height=height or self.default_height,
                    theme=chart_theme,
                    renderer=renderer,
                    live=live,
                )
            )
        return ChartHTML("".join(parts))

    def _check_scripts(self, needed: list[str], what: str) -> None:
        missing = [name for name in needed if name not in self.extra_scripts]
        if missing:
            raise ValueError(
                f"chart {what!r} needs {', '.join(missing)}, which ECharts does not include: serve the script "
                f"yourself and name it in Charts(extra_scripts={{{missing[0]!r}: '/static/....js'}})"
            )

    def response(
        self,
        *charts: Any,
        title: str = "Charts",
        live: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        root_path: str | None = None,
    ) -> Response:
        """A whole HTML page showing ``charts``, under :attr:`csp`.

        Args:
            *charts: what :meth:`chart` takes, one after the other.
            title: the page's ``<title>`` and heading (escaped).
            live: an event stream updating the charts.
            status, headers: the response's (``headers`` may replace the CSP).
            root_path: the prefix the app is mounted under (default: the current request's, when templates are set
                up; else none).

        Raises:
            TypeError, ValueError: as :meth:`chart`.
        """
        body = "".join(self.chart(c, live=live) for c in charts)
        t = html.escape(title)
        page = (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{t}</title>\n<link rel="icon" href="data:,">\n{self.scripts(root_path)}\n</head>\n'
            f"<body>\n<h1>{t}</h1>\n{body}\n</body>\n</html>\n"
        )
        response = Response(page, status=status)
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        if headers:
            response.headers.update(headers)
        return response


def _root_path() -> str:
    request = current_request()
    return getattr(request, "root_path", "") or "" if request is not None else ""


#: The reference's name for the extension (``ChartExtension(app)``).
ChartExtension = Charts
