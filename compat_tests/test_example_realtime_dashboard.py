"""examples/realtime_dashboard.py on every path: the page and its local scripts under a strict CSP, readings
validated, and (real servers) readings pushed to an open event stream that ends when its client leaves."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from compat_tests.harness import HOST, Target, assert_same

APP = "realtime_dashboard:app"


def _scripts(page: str) -> list[str]:
    return re.findall(r'<script src="([^"]+)" defer></script>', page)


def test_the_page_shows_three_live_charts_with_local_scripts_only(target: Target, ref: Target) -> None:
    r = target.get("/")
    assert (r.status, r.header("content-type")) == (200, "text/html; charset=utf-8"), r
    csp = r.header("content-security-policy") or ""
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    scripts = _scripts(r.text)
    assert [s.rsplit("/", 1)[1] for s in scripts] == ["echarts.min.js", "gobstopper-charts.js"]
    assert all(s.startswith("/_charts/") for s in scripts)
    assert re.findall(r'data-gobstopper-chart="(\w+)"', r.text) == ["history", "boiler", "latest"]
    assert r.text.count('data-live="/live"') == 3
    assert "<script>" not in r.text  # nothing inline
    assert_same(r, ref.get("/"))


def test_the_scripts_and_the_stylesheet_are_served_by_the_app(target: Target, ref: Target) -> None:
    page = target.get("/").text
    for url in [*_scripts(page), "/static/dashboard/dashboard.css"]:
        r = target.get(url, headers={"accept-encoding": "identity"})
        assert r.status == 200, (url, r)
        if url.startswith("/_charts/"):
            assert r.header("content-type") == "text/javascript; charset=utf-8"
            assert r.header("cache-control") == "public, max-age=31536000, immutable"
        assert_same(r, ref.get(url, headers={"accept-encoding": "identity"}))
    zipped = target.get(_scripts(page)[0], headers={"accept-encoding": "gzip"})
    assert (zipped.status, zipped.header("content-encoding")) == (200, "gzip"), zipped


def test_readings_are_validated(target: Target) -> None:
    good = target.post("/readings", json={"sensor": "tank", "value": 41.5})
    assert (good.status, good.json()) == (201, {"sensor": "tank", "value": 41.5}), good
    for body in ({"sensor": "attic", "value": 1}, {"sensor": "tank", "value": 1000}, {"sensor": "tank"}):
        r = target.post("/readings", json=body)
        assert (r.status, r.header("content-type")) == (422, "application/problem+json"), (body, r)
    r = target.post("/readings", content="tank=1", headers={"content-type": "text/plain"})
    assert r.status == 415, r


def _events(sock: socket.socket, buffer: bytearray, until: object, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """Read events from ``sock`` until ``until(events)`` holds; all events read so far."""
    deadline = time.monotonic() + timeout
    events: list[tuple[str, dict]] = []
    while time.monotonic() < deadline:
        for block in re.findall(rb"event: ([\w-]+)\ndata: ([^\n]*)\n\n", bytes(buffer)):
            events.append((block[0].decode(), json.loads(block[1])))
        if until(events):  # type: ignore[operator]
            return events
        events.clear()
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        buffer += chunk
    raise AssertionError(f"not seen in time; read: {bytes(buffer[-2000:])!r}")


def _clients(target: Target) -> int:
    return int(target.get("/status").json()["clients"])


def _wait_clients(target: Target, expected: int) -> None:
    deadline = time.monotonic() + 10
    while _clients(target) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _clients(target) == expected


@pytest.mark.real_servers_only
def test_a_posted_reading_reaches_an_open_stream_which_ends_when_the_client_leaves(target: Target) -> None:
    port = target.server.port  # type: ignore[attr-defined]
    before = _clients(target)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /live HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode())
        buffer = bytearray()
        # The stream starts with the current state: every chart's data or its last option.
        state = _events(sock, buffer, lambda evs: {e[1]["chart"] for e in evs} >= {"history", "boiler", "latest"})
        assert b"text/event-stream; charset=utf-8" in bytes(buffer).lower()
        assert all(name == "chart-option" for name, _ in state[:3])
        _wait_clients(target, before + 1)
        r = target.post("/readings", json={"sensor": "tank", "value": 111.1})
        assert r.status == 201, r
        seen = _events(
            sock,
            buffer,
            lambda evs: (
                any(n == "chart-points" and d["chart"] == "history" and [111.1] in d["y"] for n, d in evs)
                and any(
                    n == "chart-option" and d["chart"] == "latest" and "111.1" in json.dumps(d["option"])
                    for n, d in evs
                )
            ),
        )
        points = next(d for n, d in seen if n == "chart-points" and [111.1] in d["y"])
        assert points["limit"] == 60 and len(points["x"]) == 1 and len(points["y"]) == 2
    _wait_clients(target, before)  # the stream's generator ended with the connection
