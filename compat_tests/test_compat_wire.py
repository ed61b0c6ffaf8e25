"""Wire correctness (issue 11) over every path: bodiless statuses and joined URL parts."""

from __future__ import annotations

import socket

import pytest

from compat_tests.harness import Target

APP = "app_wire:app"

BODILESS = ["/no-content/response", "/not-modified", "/no-content/stream"]


@pytest.mark.parametrize("url", BODILESS)
def test_a_status_that_forbids_a_body_has_none(target: Target, url: str) -> None:
    r = target.get(url)
    assert r.status in (204, 304)
    assert r.body == b""
    assert r.header("content-length") is None
    assert r.header("transfer-encoding") is None


def test_a_204_from_a_returned_dict_has_no_body(target: Target) -> None:
    r = target.request("DELETE", "/no-content/dict")
    assert (r.status, r.body, r.header("content-length")) == (204, b"", None)


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection; got {data!r}"
        data += chunk
    return data


@pytest.mark.real_servers_only
def test_the_connection_stays_usable_after_a_204_with_a_returned_body(target: Target) -> None:
    # uvicorn used to log "Response content longer than Content-Length" and drop the keep-alive connection.
    port = target.server.port  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        first = _exchange(sock, b"DELETE /no-content/dict HTTP/1.1\r\nHost: t\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 204")
        head, _, rest = first.partition(b"\r\n\r\n")
        assert rest == b"" and b"content-length" not in head.lower()
        second = _exchange(sock, b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        assert second.startswith(b"HTTP/1.1 200"), second


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/a/c/", {"url": "/a/c/"}),
        ("/a/b/d", {"url": "/a/b/d"}),
        ("/no-leading-slash", {"url": "/no-leading-slash"}),
        ("/m/x", {"root_path": "/m", "path": "/x"}),
    ],
)
def test_url_parts_are_joined_with_exactly_one_slash(target: Target, url: str, expected: dict[str, str]) -> None:
    r = target.get(url)
    assert (r.status, r.json()) == (200, expected)


@pytest.mark.parametrize("url", ["/ac/", "/a//c/", "/ab/d", "/a/bd"])
def test_the_wrongly_joined_paths_do_not_exist(target: Target, url: str) -> None:
    assert target.get(url).status == 404
