"""A counter updated by Datastar: a click posts to the server, which answers with a patch of the page over SSE.

Run it with ``gobstopper run datastar_counter:app`` and open /. The Datastar client (``static/datastar``, the
released v1 bundle, served locally) sends ``@post('/increment')``; the handler renders the ``count`` block of
``templates/counter.html`` and returns it as a ``datastar-patch-elements`` event.
"""

from __future__ import annotations

from pathlib import Path

from gobstopper import Gobstopper, StaticFileMiddleware
from gobstopper.extensions.datastar import Datastar, datastar_response

HERE = Path(__file__).resolve().parent

app = Gobstopper(__name__)
app.init_templates("templates")
app.add_middleware(StaticFileMiddleware(HERE / "static", url_prefix="/static"), priority=10)

state = {"count": 0}


@app.get("/")
async def index(request):
    return await app.render_template("counter.html", count=state["count"])


async def _patch():
    fragment = await app.render_block("counter.html", "count", count=state["count"])
    return datastar_response(Datastar.patch_elements(fragment))


@app.post("/increment")
async def increment(request):
    state["count"] += 1
    return await _patch()


@app.post("/decrement")
async def decrement(request):
    state["count"] -= 1
    return await _patch()
