"""Event streams and failing streams, for the raw-socket tests of compat_tests/test_compat_streams.py."""

from __future__ import annotations

import asyncio

from gobstopper import Gobstopper, StreamResponse
from gobstopper.http.sse import EventSourceResponse, ServerSentEvent, last_event_id

app = Gobstopper(__name__)

#: How many event-stream generators ran their ``finally`` (one worker per server: a process-wide count).
finished = {"count": 0}


@app.get("/sse/framing")
async def framing(request):
    async def events():
        yield ServerSentEvent("one\ntwo\r\nthree\rfour", event="multi", id="1")
        yield ServerSentEvent({"n": 2}, id=2, retry=1500)
        yield ServerSentEvent(comment="just a comment")
        yield {"data": "from a dict", "event": "dict"}
        yield "plain"

    return EventSourceResponse(events())


@app.get("/sse/resume")
async def resume(request):
    start = int(last_event_id(request) or 0) + 1

    async def events():
        for n in range(start, start + 2):
            yield ServerSentEvent(f"event {n}", id=n)

    return EventSourceResponse(events())


@app.get("/sse/forever")
async def forever(request):
    ping = float(request.get_str("ping") or 15)

    async def events():
        try:
            yield ServerSentEvent("hello", event="greeting")
            while True:
                await asyncio.sleep(3600)
                yield ServerSentEvent("never")
        finally:
            finished["count"] += 1

    return EventSourceResponse(events(), ping=ping)


@app.get("/sse/finished")
async def finished_count(request):
    return {"finished": finished["count"]}


@app.get("/stream/fails")
async def fails(request):
    async def rows():
        yield "id,name\n"
        yield "1,alice\n"
        raise ValueError("the database went away")

    return StreamResponse(rows(), content_type="text/csv")


@app.get("/stream/fails-sync")
async def fails_sync(request):
    def rows():
        yield "id,name\n"
        yield "1,alice\n"
        raise RuntimeError("not a disconnect, although a RuntimeError")

    return StreamResponse(rows(), content_type="text/csv")


@app.get("/stream/ok")
async def ok(request):
    return StreamResponse(iter(["id,name\n", "1,alice\n"]), content_type="text/csv")
