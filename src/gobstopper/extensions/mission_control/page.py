"""The Mission Control page: rendered complete on the server (it reads fine without JavaScript), then kept live by
``static/mission-control.js`` over Server-Sent Events (``/api/stream``)."""

from __future__ import annotations

import html
from typing import Any


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_page(mc: Any, request: Any) -> str:
    """The dashboard's HTML: figure cards, per-route metrics, the route table, tasks and cache sections."""
    from ...cli.routing import route_rows

    prefix = _e(mc.url_prefix)
    rows = []
    for row in route_rows(mc.app):
        if row["name"].startswith("mission_control."):
            continue
        methods = ",".join(row["methods"]) or "WS"
        rows.append(
            f"<tr><td>{_e(methods)}</td><td class=mono>{_e(row['path'])}</td><td>{_e(row['name'])}</td>"
            f"<td class=mono>{_e(row['handler'])}</td><td>{_e(row['blueprint'] or '')}</td></tr>"
        )
    cards = "".join(
        f'<div class="card"><span class="label">{label}</span><span class="value" id="{ident}">–</span></div>'
        for ident, label in (
            ("uptime", "Uptime"),
            ("requests", "Requests"),
            ("errors", "Unhandled errors"),
            ("memory", "Memory (RSS)"),
            ("cpu", "CPU"),
            ("lag", "Event-loop lag"),
            ("websockets", "Open WebSockets"),
            ("streams", "Open streams (SSE)"),
        )
    )
    tasks_note = "" if "tasks" in mc.app.extensions else "<p class=muted>This app has no task queue.</p>"
    cache_note = "" if "cache" in mc.app.extensions else "<p class=muted>This app has no cache extension.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{_e(mc.csrf_token)}"><meta name="mc-prefix" content="{prefix}">
<title>Mission Control · {_e(mc.app.name)}</title>
<link rel="stylesheet" href="{prefix}/static/mission-control.css"></head>
<body>
<header><h1>Mission Control <span class="app">{_e(mc.app.name)}</span></h1>
<p id="scope" class="scope">connecting…</p><p id="live" class="live off">offline</p></header>
<main>
<section class="cards">{cards}</section>
<section><h2>Requests by route</h2>
<table id="route-metrics"><thead><tr><th>Route</th><th>Pattern</th><th class=num>Requests</th><th class=num>Errors</th>
<th class=num>p50</th><th class=num>p90</th><th class=num>p99</th></tr></thead><tbody></tbody></table>
<p class=muted>Latency: dispatch to response head, over each route's last 1,024 timed requests (about fifty
requests a second are timed).</p></section>
<section><h2>Route table</h2>
<table id="route-table"><thead><tr><th>Methods</th><th>Path</th><th>Name</th><th>Handler</th><th>Blueprint</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table></section>
<section id="tasks"><h2>Background tasks</h2>{tasks_note}<div id="task-stats"></div>
<table id="task-list" hidden><thead><tr><th>Task</th><th>Category</th><th>Status</th><th class=num>Attempts</th>
<th>Error</th><th></th></tr></thead><tbody></tbody></table></section>
<section id="cache"><h2>Cache</h2>{cache_note}<pre id="cache-stats"></pre></section>
<section id="workers"><h2>Workers</h2><table id="worker-list"><thead><tr><th>Worker</th><th class=num>Uptime</th>
<th class=num>RSS</th><th class=num>CPU</th><th class=num>Loop lag</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="{prefix}/static/mission-control.js"></script>
</body></html>
"""
