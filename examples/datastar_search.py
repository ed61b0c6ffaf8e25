"""Live search with Datastar: typing sends the ``query`` signal, the server patches the result list.

Run it with ``gobstopper run datastar_search:app`` and open /. The input is bound to the ``query`` signal; each
(debounced) input event runs ``@get('/search')``, which sends the signals as ``?datastar={"query": ...}``.
``await request.datastar(Signals)`` decodes them into a ``msgspec.Struct`` (a bad payload is a 400/422).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from gobstopper import Gobstopper, StaticFileMiddleware
from gobstopper.extensions.datastar import Datastar, datastar_response

HERE = Path(__file__).resolve().parent

app = Gobstopper(__name__)
app.init_templates("templates")
app.add_middleware(StaticFileMiddleware(HERE / "static", url_prefix="/static"), priority=10)

FRUIT = sorted(
    [
        "apple",
        "apricot",
        "banana",
        "blackberry",
        "blueberry",
        "cherry",
        "date",
        "fig",
        "grape",
        "kiwi",
        "lemon",
        "lime",
        "mango",
        "melon",
        "nectarine",
        "orange",
        "papaya",
        "peach",
        "pear",
        "pineapple",
        "plum",
        "raspberry",
        "strawberry",
        "watermelon",
    ]  # fmt: skip
)


class Signals(msgspec.Struct):
    query: str = ""


def matching(query: str) -> list[str]:
    query = query.strip().lower()[:100]
    return [fruit for fruit in FRUIT if query in fruit]


@app.get("/")
async def index(request):
    return await app.render_template("search.html", results=FRUIT, query="")


@app.get("/search")
async def search(request):
    signals = await request.datastar(Signals)
    fragment = await app.render_block("search.html", "results", results=matching(signals.query), query=signals.query)
    return datastar_response(Datastar.patch_elements(fragment))
