"""Slow, broken and departing clients (issue 17): a short body timeout, handlers that report what they got.

``/echo`` reads the whole body and answers its length and digest; a handler only ever sees a complete body, so an
answer of 200 proves the body arrived whole. ``BODY_TIMEOUT`` is short so that the tests' waits stay bounded.
"""

from __future__ import annotations

import hashlib

from gobstopper import Gobstopper, Response

#: Seconds of silence in a request body before the 408 (the framework's default is 30).
BODY_TIMEOUT = 1.0

app = Gobstopper(__name__, body_timeout=BODY_TIMEOUT)
#: Bodies the handlers received whole (a test compares it before and after sending a broken one).
received = {"bodies": 0}


@app.get("/health")
async def health(request):
    return Response("ok", content_type="text/plain; charset=utf-8")


@app.post("/echo")
async def echo(request):
    data = await request.get_data()
    received["bodies"] += 1
    return {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@app.get("/seen")
async def seen(request):
    return received
