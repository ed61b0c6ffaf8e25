"""A clock pushed by Server-Sent Events: ``EventSourceResponse`` and a page that listens with ``EventSource``.

Run it with ``gobstopper run sse_clock:app`` and open /. Each event carries an ``id``; a browser that reconnects
sends ``Last-Event-ID`` and the clock goes on counting from there. Keep-alive comments go out every 15 s of
silence (never here: a tick is sent every second); the generator's ``finally`` runs as soon as the tab closes.
"""

from __future__ import annotations

import asyncio
import time

from gobstopper import Gobstopper
from gobstopper.http.sse import EventSourceResponse, ServerSentEvent, last_event_id

app = Gobstopper(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SSE clock</title></head>
<body><h1>Server time: <span id="clock">…</span></h1>
<script>
  const source = new EventSource("/clock");
  source.addEventListener("tick", (e) => { document.getElementById("clock").textContent = e.data; });
</script></body></html>"""


@app.get("/")
async def index(request):
    return PAGE


@app.get("/clock")
async def clock(request):
    interval = min(max(float(request.get_str("interval") or 1.0), 0.01), 60.0)
    start = int(last_event_id(request) or 0) + 1

    async def ticks():
        n = start
        while True:
            yield ServerSentEvent(time.strftime("%H:%M:%S"), event="tick", id=n)
            n += 1
            await asyncio.sleep(interval)

    return EventSourceResponse(ticks())
