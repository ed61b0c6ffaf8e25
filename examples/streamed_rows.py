"""A page of 10,000 table rows streamed as Jinja2 renders it (``render_template(..., stream=True)``).

Run it with ``gobstopper run streamed_rows:app`` and open /rows (``?n=`` changes the count, up to 100,000).
The rows come from a generator and the template renders in a worker thread in chunks of about 8 KiB, so the
whole page is never held in memory and the event loop stays free; if the client leaves, rendering stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gobstopper import Gobstopper

app = Gobstopper(__name__)
app.init_templates("templates")

MAX_ROWS = 100_000


def rows(count: int) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        yield {"id": n, "name": f"player-{n}", "score": (n * 7919) % 1000}


@app.get("/rows")
async def show_rows(request):
    try:
        count = min(max(int(request.get_str("n") or 10_000), 0), MAX_ROWS)
    except ValueError:
        return {"error": "n must be a whole number"}, 400
    return await app.render_template("rows.html", stream=True, rows=rows(count), rows_count=count)
