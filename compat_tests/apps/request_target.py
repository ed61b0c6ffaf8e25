"""Odd request targets and malformed header lines (docs/hardening.md rows 30 and 32).

The catch-all route answers what the app saw: ``request.url``, ``request.host`` and ``request.path`` (the routed
path). A middleware adds ``X-Seen-URL`` (``request.url`` as the app would build it) to every answer, the framework's
own 400/404 included, so a target that is never routed still shows the URL an app would see. ``/headers`` answers
the header fields and cookies as the framework parsed them; ``/seen`` counts the requests handlers ran for.
"""

from __future__ import annotations

from gobstopper import Gobstopper

app = Gobstopper(__name__)
#: Requests a handler ran for (a test compares it before and after sending a request a server must refuse).
handled = {"count": 0}


def _seen(request) -> dict[str, str]:
    handled["count"] += 1
    return {"url": request.url, "host": request.host, "path": request.path, "method": request.method}


async def seen_url(request, call_next):
    response = await call_next(request)
    response.headers["x-seen-url"] = request.url
    return response


app.add_middleware(seen_url)


@app.get("/__compat_ready")
async def ready(request):
    return "ok"


@app.get("/seen")
async def seen(request):
    return handled


@app.get("/headers")
async def headers(request):
    handled["count"] += 1
    return {
        "headers": [[k, v] for k, v in request.headers.items()],
        "x_probe": request.header("x-probe"),
        "cookies": request.cookies,
    }


@app.route("/<path:rest>", methods=["GET", "POST", "OPTIONS"])
async def anything(request, rest):
    return _seen(request)


@app.get("/")
async def root(request):
    return _seen(request)
