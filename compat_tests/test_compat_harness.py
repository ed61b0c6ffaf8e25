"""The harness checks itself with a hand-written ASGI+RSGI app: servers start, answers compare, and a
difference is detected (a comparison that cannot fail would be worthless)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from compat_tests import harness
from compat_tests.harness import Result, Target, assert_same, raw_request

APP = "app_selftest:app"


def test_plain_response(target: Target, ref: Target) -> None:
    r = target.get("/hello")
    assert (r.status, r.body, r.header("content-length")) == (200, b"hello", "5")
    assert_same(r, ref.get("/hello"))


def test_streamed_response(target: Target, ref: Target) -> None:
    r = target.get("/chunks")
    assert (r.status, r.body) == (200, b"abcdef")
    assert_same(r, ref.get("/chunks"))


def test_set_cookies_stay_separate(target: Target, ref: Target) -> None:
    r = target.get("/cookies")
    assert r.header_list("set-cookie") == ["a=1", "b=2"]
    assert_same(r, ref.get("/cookies"))


def test_host_header_is_testserver(target: Target) -> None:
    assert target.get("/host").body == b"testserver"


def test_raw_duplicate_host(target: Target) -> None:
    r = target.raw(b"GET /host HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
    if target.name == "uvicorn":
        assert r.status in (200, 400), r  # h11 refuses duplicate Host itself, httptools passes both on
    else:
        assert r.status == 200, r
    if r.status == 200:
        assert r.body == b"a,b"  # both values reach the app on every path


def test_assert_same_detects_differences() -> None:
    a = Result("x", 200, [("content-type", "text/plain"), ("date", "d1")], b"a")
    assert_same(a, Result("y", 200, [("date", "d2"), ("content-type", "text/plain")], b"a"))
    for other in (
        Result("y", 201, [("content-type", "text/plain")], b"a"),
        Result("y", 200, [("content-type", "text/html")], b"a"),
        Result("y", 200, [("content-type", "text/plain")], b"b"),
        Result("y", 200, [("content-type", "text/plain"), ("set-cookie", "a=1")], b"a"),
    ):
        with pytest.raises(AssertionError):
            assert_same(a, other)


def _serve_once(payload: bytes) -> int:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def run() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(payload)
        srv.close()

    threading.Thread(target=run, daemon=True).start()
    return int(srv.getsockname()[1])


def test_raw_request_parses_chunked_and_length() -> None:
    port = _serve_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n2\r\nab\r\n3;ext=1\r\ncde\r\n0\r\n\r\n"
    )
    r = raw_request("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.status, r.body, ("x-a", "1") in r.headers) == (200, b"abcde", True)
    port = _serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabcEXTRA")
    r = raw_request("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.status, r.body) == (404, b"abc")
    port = _serve_once(b"")
    assert raw_request("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n").status == 0


@pytest.mark.servers
def test_a_server_that_lost_its_port_to_another_process_is_started_on_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = [taken.getsockname()[1]]
    real_free_port = harness.free_port
    monkeypatch.setattr(harness, "free_port", lambda: ports.pop() if ports else real_free_port())
    server = harness.RealServer(harness.ServerKey("granian-rsgi", "hello:app", "1"), tmp_path)
    try:
        server.start()
        server.wait_ready()
        assert server.port != taken.getsockname()[1]
        assert harness.raw_request("127.0.0.1", server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 200
    finally:
        server.stop()
        taken.close()


def test_bind_failures_are_recognised_in_each_servers_words() -> None:
    assert harness._lost_the_port("RuntimeError: Address already in use (os error 98)")
    assert harness._lost_the_port("ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 1)")
    assert not harness._lost_the_port("ModuleNotFoundError: No module named 'app'")
