"""WebSockets over every path: TestClient (ASGI), the fake RSGI protocol, and a real client (``websockets``)
against real uvicorn, granian asgi and granian rsgi.

What differs by protocol, and is asserted per path:
- after ``accept()``, RSGI delivers no close code or reason: the client sees 1005 (docs/rsgi-notes.md, G13);
- a handshake refused before ``accept()`` carries its exact HTTP status everywhere (ASGI through the
  ``websocket.http.response`` extension, which uvicorn, granian and Starlette's TestClient offer).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from compat_tests.harness import InProcessTarget, ServerTarget, Target
from gobstopper.testing import WebSocketClosed, WebSocketRejected

APP = "ws_app:app"


class Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Closed(Exception):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WSConn:
    """One client connection with the same small API on every path."""

    def __init__(self, kind: str, conn: Any) -> None:
        self.kind, self.conn = kind, conn

    def send(self, data: str | bytes) -> None:
        if self.kind == "real":
            self.conn.send(data)
        elif isinstance(data, str):
            self.conn.send_text(data)
        else:
            self.conn.send_bytes(data)

    def recv(self, timeout: float = 5.0) -> str | bytes:
        if self.kind == "real":
            try:
                return self.conn.recv(timeout)
            except ConnectionClosed as exc:
                rcvd = exc.rcvd
                raise Closed(rcvd.code if rcvd is not None else 1006, rcvd.reason if rcvd is not None else "") from None
        if self.kind == "rsgi":
            try:
                return self.conn.receive(timeout)
            except WebSocketClosed as exc:
                raise Closed(exc.code, exc.reason) from None
        message = self.conn.receive()  # Starlette's session: an ASGI event
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000), message.get("reason") or "")
        return message["text"] if message.get("text") is not None else message["bytes"]

    def recv_close(self, timeout: float = 5.0) -> Closed:
        """Read until the server closes; return the close."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.recv(max(0.05, deadline - time.monotonic()))
            except Closed as exc:
                return exc


@contextlib.contextmanager
def ws_connect(target: Target, path: str, headers: Sequence[tuple[str, str]] = ()) -> Iterator[WSConn]:
    """Open a WebSocket on ``target``; a refused handshake raises :class:`Rejected` with the HTTP status."""
    if isinstance(target, ServerTarget):
        try:
            conn = connect(
                f"ws://127.0.0.1:{target.server.port}{path}",
                additional_headers=list(headers),
                open_timeout=5,
                close_timeout=2,
                max_size=None,
            )
        except InvalidStatus as exc:
            raise Rejected(exc.response.status_code) from None
        with conn:
            yield WSConn("real", conn)
        return
    assert isinstance(target, InProcessTarget)
    if target.name == "rsgi":
        try:
            session = target.client.websocket_connect(path, headers=list(headers))
        except WebSocketRejected as exc:
            raise Rejected(exc.status_code) from None
        with session:
            yield WSConn("rsgi", session)
        return
    from starlette.testclient import WebSocketDenialResponse
    from starlette.websockets import WebSocketDisconnect

    try:
        cm = target.client.websocket_connect(path, headers=dict(headers))
        session = cm.__enter__()
    except WebSocketDenialResponse as exc:
        raise Rejected(exc.status_code) from None
    except WebSocketDisconnect:  # a close before accept without the denial extension: servers answer 403
        raise Rejected(403) from None
    try:
        yield WSConn("asgi", session)
    finally:
        with contextlib.suppress(WebSocketDisconnect):
            cm.__exit__(None, None, None)


def after_accept_code(target: Target, code: int) -> int:
    """The close code a client sees for a server close with ``code`` after accept: RSGI sends none (1005)."""
    return 1005 if target.name in ("rsgi", "granian-rsgi") else code


def pid_of(target: Target) -> int:
    return target.get("/pid").json()["pid"]


# -- messages --------------------------------------------------------------------------------------------------


def test_echo_keeps_text_and_bytes(target: Target) -> None:
    with ws_connect(target, "/ws/echo") as ws:
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00\x01\xff")
        assert ws.recv() == b"\x00\x01\xff"
        ws.send("naïve ☃")
        assert ws.recv() == "naïve ☃"


def test_handshake_facts_path_params_query_headers_cookies(target: Target) -> None:
    headers = [("x-test", "yes"), ("cookie", "c=cookie-value")]
    with ws_connect(target, "/ws/info/7?token=abc", headers) as ws:
        info = json.loads(ws.recv())
        assert info == {
            "n": 7,
            "path": "/ws/info/7",
            "token": "abc",
            "x_test": "yes",
            "cookie": "cookie-value",
            "client_ip": info["client_ip"],
        }
        assert info["client_ip"] in ("127.0.0.1", "testclient")
        ws.send(json.dumps({"a": [1, 2]}))
        assert json.loads(ws.recv()) == {"got": {"a": [1, 2]}}


def test_blueprint_websocket_route(target: Target) -> None:
    with ws_connect(target, "/bp/ws/21") as ws:
        assert ws.recv() == "bp 42"


def test_large_text_stays_one_text_message(target: Target) -> None:
    # The reference split text over 64 KiB into binary frames (docs/upstream.md item 18).
    with ws_connect(target, "/ws/big-text?size=300000") as ws:
        message = ws.recv()
        assert isinstance(message, str)
        assert len(message) == 300000 and message.startswith("éxxxxxxxxxé")


def test_close_code_and_reason(target: Target) -> None:
    with ws_connect(target, "/ws/close-code") as ws:
        assert ws.recv() == "bye soon"  # queued messages go out before the close
        closed = ws.recv_close()
        assert closed.code == after_accept_code(target, 4001)
        if closed.code == 4001:
            assert closed.reason == "bye"


def test_handler_error_after_accept_closes_1011(target: Target) -> None:
    with ws_connect(target, "/ws/raise-after") as ws:
        assert ws.recv() == "about to fail"
        assert ws.recv_close().code == after_accept_code(target, 1011)


# -- refusals: explicit HTTP statuses, and the server keeps serving ------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ws/nope", 404),
        ("/ws/raise-before", 500),
        ("/ws/return-before", 403),
        ("/ws/close-before", 403),
        ("/ws/abort", 401),
        ("/ping", 404),  # an HTTP route is not a WebSocket route
    ],
)
def test_refused_handshakes_get_their_status(target: Target, path: str, status: int) -> None:
    with pytest.raises(Rejected) as info:
        with ws_connect(target, path):
            pass
    assert info.value.status == status


def test_refusals_never_take_the_worker_down(target: Target) -> None:
    # Granian <= 2.8.5 dies on an RSGI handshake that ends without a status (docs/rsgi-notes.md, G13); one worker here.
    before = pid_of(target)
    for path in ["/ws/nope", "/ws/raise-before", "/ws/return-before", "/ws/close-before", "/ws/abort"] * 3:
        with pytest.raises(Rejected):
            with ws_connect(target, path):
                pass
    assert target.get("/ping").status == 200
    assert pid_of(target) == before
    with ws_connect(target, "/ws/abort?token=secret") as ws:
        assert ws.recv() == "welcome"


# -- limits ------------------------------------------------------------------------------------------------------

GOOD = [("origin", "https://good.example")]


def test_origin_allow_list(target: Target) -> None:
    with ws_connect(target, "/strict/ws/echo", GOOD) as ws:
        ws.send("ok")
        assert ws.recv() == "ok"
    for headers, status in (([("origin", "https://evil.example")], 403), ([], 403)):
        with pytest.raises(Rejected) as info:
            with ws_connect(target, "/strict/ws/echo", headers):
                pass
        assert info.value.status == status


@pytest.mark.exclude_paths("asgi")  # Starlette's TestClient takes headers as a dict: one Origin only
def test_two_origin_headers_are_a_400(target: Target) -> None:
    headers = [("origin", "https://good.example"), ("origin", "https://evil.example")]
    with pytest.raises(Rejected) as info:
        with ws_connect(target, "/strict/ws/echo", headers):
            pass
    assert info.value.status == 400


def test_message_over_the_limit_closes_1009(target: Target) -> None:
    with ws_connect(target, "/strict/ws/echo", GOOD) as ws:
        ws.send("x" * 1024)  # exactly the limit: fine
        assert ws.recv() == "x" * 1024
        ws.send("é" * 513)  # 1026 bytes in UTF-8, 513 characters: counted in bytes
        assert ws.recv_close().code == after_accept_code(target, 1009)


def test_silent_peer_is_closed_by_the_heartbeat(target: Target) -> None:
    with ws_connect(target, "/hb/ws/echo") as ws:
        started = time.monotonic()
        assert ws.recv(2) == "ping"  # after 0.3 s of silence
        closed = ws.recv_close(3)  # no answer within 0.3 s more
        assert closed.code == after_accept_code(target, 1011)
        assert time.monotonic() - started < 2.5


def test_answering_peer_stays_connected(target: Target) -> None:
    with ws_connect(target, "/hb/ws/echo") as ws:
        deadline = time.monotonic() + 1.2  # four heartbeat rounds
        while time.monotonic() < deadline:
            assert ws.recv(2) == "ping"
            ws.send("pong")  # swallowed by the heartbeat, not echoed
        ws.send("still here")
        assert ws.recv(2) in ("still here", "ping")


# Left out: "asgi" and "uvicorn", whose sends never wait: Starlette's TestClient queues without limit, and
# uvicorn's default websockets-sansio implementation writes to the transport without draining (observed: 125 MiB
# "sent" in 1.8 s to a client that had stopped reading). No app can see a slow consumer there;
# docs/websockets.md says so.
@pytest.mark.exclude_paths("asgi", "uvicorn")
def test_slow_consumer_is_closed_not_buffered(target: Target) -> None:
    with ws_connect(target, "/slow/ws/flood") as ws:
        deadline = time.monotonic() + 15
        result = None
        while time.monotonic() < deadline and result is None:
            time.sleep(0.2)
            result = target.get("/results").json().get("flood")
        assert result is not None, "the flooding handler was never cut off"
        assert result["code"] == 1008 and result["reason"] == "slow consumer"
        assert result["sent"] < 2000  # far less than the 3000 messages it tried
        del ws


# -- what the server side records (docs/hardening.md rows 48, 49): under RSGI the peer sees 1005 for every close after
# accept, so the code the framework's WebSocket recorded is what tells the closes apart (docs/websockets.md).


def _recorded(target: Target, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        record: dict[str, Any] = target.get(f"/closes/{key}").json()
        if record["known"] and record["closed"]:
            return record
        assert time.monotonic() < deadline, f"{key}: never closed on the server side: {record}"
        time.sleep(0.02)


CLOSES = [
    # (path, what the client sends after connecting, the code and reason the framework closes with)
    pytest.param("/ws/close-code", "", 4001, "bye", id="close(4001)"),
    pytest.param("/ws/return-after", "", 1000, "", id="handler-returns"),
    pytest.param("/ws/raise-after", "", 1011, "", id="handler-raises"),
    pytest.param("/strict/ws/echo", "x" * 1025, 1009, "message too big", id="message-too-big"),
    pytest.param("/hb/ws/echo", "", 1011, "heartbeat timeout", id="heartbeat-timeout"),
    pytest.param("/idle/ws/echo", "", 1001, "idle timeout", id="idle-timeout"),
]


@pytest.mark.parametrize(("path", "message", "code", "reason"), CLOSES)
def test_the_server_side_records_every_close_the_framework_makes(
    target: Target, path: str, message: str, code: int, reason: str
) -> None:
    key = os.urandom(6).hex()
    with ws_connect(target, f"{path}?key={key}", GOOD) as ws:
        if message:
            ws.send(message)
        closed = ws.recv_close(5)
    assert closed.code == after_accept_code(target, code), closed
    record = _recorded(target, key)
    assert (record["code"], record["reason"]) == (code, reason), record
