"""Server-Sent Events: framing, headers, keep-alive, resumption, disconnects and shutdown (in process).

The same behaviours over real servers are in compat_tests/test_compat_streams.py.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from gobstopper import Gobstopper
from gobstopper.http.sse import (
    PING_COMMENT,
    EventSourceResponse,
    ServerSentEvent,
    SSEStream,
    format_sse,
    last_event_id,
)
from gobstopper.testing import TestClient
from tests._streams import run_asgi, run_rsgi


def test_data_lines_split_on_every_line_break_the_spec_knows() -> None:
    event = ServerSentEvent("a\r\nb\rc\nd", event="e", id="7", retry=10)
    assert event.encode() == "id: 7\nevent: e\nretry: 10\ndata: a\ndata: b\ndata: c\ndata: d\n\n"


def test_data_that_is_not_text_is_json() -> None:
    assert ServerSentEvent({"a": [1, 2]}).encode() == 'data: {"a":[1,2]}\n\n'
    assert ServerSentEvent(b"raw").encode() == "data: raw\n\n"


def test_other_unicode_line_separators_stay_inside_the_data() -> None:
    # str.splitlines() would split on these; the SSE parser does not, so neither do we.
    assert ServerSentEvent("a\u2028b\x0bc").encode() == "data: a\u2028b\x0bc\n\n"


def test_comments_and_empty_data() -> None:
    assert ServerSentEvent(comment="hi\nthere").encode() == ": hi\n: there\n\n"
    assert ServerSentEvent("").encode() == "data: \n\n"
    assert format_sse("x", event="y") == "event: y\ndata: x\n\n"


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nevent: injected", "a\rb", "a\r\nb"])
def test_line_breaks_in_event_or_id_cannot_inject_an_event(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF"):
        ServerSentEvent("x", **{field: bad})


def test_id_with_nul_and_negative_retry_are_refused() -> None:
    with pytest.raises(ValueError):
        ServerSentEvent("x", id="a\x00b")
    with pytest.raises(ValueError):
        ServerSentEvent("x", retry=-1)
    with pytest.raises(ValueError):
        ServerSentEvent("x", retry=1.5)  # type: ignore[arg-type]


def _app() -> tuple[Gobstopper, dict[str, int]]:
    app = Gobstopper(__name__)
    state = {"finally": 0, "sent": 0}

    @app.get("/finite")
    async def finite(request):
        async def events():
            yield ServerSentEvent("hello", event="greeting", id=1)
            yield {"data": {"n": 2}, "id": 2}

        return EventSourceResponse(events(), headers={"X-Extra": "1"})

    @app.get("/sync")
    async def sync_source(request):
        def events():
            for n in range(3):
                yield ServerSentEvent(n)

        return EventSourceResponse(events())

    @app.get("/resume")
    async def resume(request):
        start = int(last_event_id(request) or 0)
        return EventSourceResponse(iter([ServerSentEvent("next", id=start + 1)]))

    @app.get("/forever")
    async def forever(request):
        ping = float(request.get_str("ping") or 15)

        async def events():
            try:
                while True:
                    state["sent"] += 1
                    yield ServerSentEvent(state["sent"])
                    await asyncio.sleep(float(request.get_str("every") or 3600))
            finally:
                state["finally"] += 1

        return SSEStream(events(), ping=ping)

    return app, state


def test_headers_and_body_of_a_finite_stream() -> None:
    app, _ = _app()
    r = TestClient(app).get("/finite")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"
    assert r.headers["x-extra"] == "1"
    assert r.content == b'id: 1\nevent: greeting\ndata: hello\n\nid: 2\ndata: {"n":2}\n\n'


def test_a_sync_source_runs_in_a_worker_thread() -> None:
    app, _ = _app()
    assert TestClient(app).get("/sync").content == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


def test_last_event_id_is_readable() -> None:
    app, _ = _app()
    assert TestClient(app).get("/resume", headers={"Last-Event-ID": "41"}).content == b"id: 42\ndata: next\n\n"


@pytest.mark.parametrize("runner", ["asgi", "rsgi"])
def test_keep_alive_comments_while_idle(runner: str) -> None:
    app, _ = _app()

    async def main() -> bytes:
        def enough(run) -> bool:
            return run.body.count(PING_COMMENT.encode()) >= 2

        if runner == "asgi":
            run = await run_asgi(app, "/forever?ping=0.05", until=enough)
        else:
            run, _ = await run_rsgi(app, "/forever?ping=0.05", until=enough)
        return bytes(run.body)

    body = asyncio.run(asyncio.wait_for(main(), 5))
    assert body.startswith(b"data: 1\n\n: ping\n\n: ping\n\n"), body


@pytest.mark.parametrize("runner", ["asgi", "rsgi"])
def test_disconnect_runs_the_generator_finally_within_a_second(runner: str) -> None:
    app, state = _app()

    async def main() -> float:
        def first_event(run) -> bool:
            return b"data: 1\n\n" in run.body

        started = time.monotonic()
        if runner == "asgi":
            run = await run_asgi(app, "/forever", until=first_event)
            assert not run.ended  # nobody is listening: no end of body is sent
        else:
            await run_rsgi(app, "/forever", until=first_event)
        return time.monotonic() - started

    elapsed = asyncio.run(asyncio.wait_for(main(), 5))
    assert state["finally"] == 1
    assert elapsed < 1.0


def test_shutdown_ends_open_streams_cleanly() -> None:
    app, state = _app()

    async def main() -> None:
        await app.startup()
        task = asyncio.ensure_future(run_asgi(app, "/forever"))
        while state["sent"] == 0:
            await asyncio.sleep(0.005)
        await asyncio.wait_for(app.shutdown(timeout=1), 2)
        run = await asyncio.wait_for(task, 2)
        assert run.ended  # the body was completed, not cut
        assert bytes(run.body) == b"data: 1\n\n"

    asyncio.run(main())
    assert state["finally"] == 1


def test_a_failing_source_is_logged_once_and_the_asgi_body_left_unfinished(caplog: pytest.LogCaptureFixture) -> None:
    app = Gobstopper("sse-failing")

    @app.get("/boom")
    async def boom(request):
        async def events():
            yield ServerSentEvent("one")
            raise RuntimeError("source failed")  # a RuntimeError is not a disconnect

        return EventSourceResponse(events())

    with caplog.at_level(logging.ERROR):
        run = asyncio.run(run_asgi(app, "/boom"))
    assert bytes(run.body) == b"data: one\n\n"
    assert not run.ended
    failures = [r for r in caplog.records if "streamed response failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].name == "sse-failing"
    assert failures[0].exc_info is not None and "source failed" in str(failures[0].exc_info[1])
