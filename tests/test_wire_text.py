"""The one decoding policy for text from the wire (``gobstopper/http/_text.py``): UTF-8 with U+FFFD, in every
place text is decoded. The real-server scenarios are ``compat_tests/test_compat_wire_text.py``."""

from __future__ import annotations

import pytest

from gobstopper import Gobstopper
from gobstopper.http._text import decode_form_component, decode_wire, header_text
from gobstopper.http.cookies import parse_cookie_header
from gobstopper.http.multipart import parse_multipart
from gobstopper.testing import RSGITestClient, TestClient

R = "\ufffd"
B = "bNd"


def test_decode_wire() -> None:
    assert decode_wire("café".encode()) == "café"
    assert decode_wire(b"caf\xe9") == f"caf{R}"  # never Latin-1
    assert decode_wire(bytearray(b"\xff\xfe")) == R + R


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"a+b", "a b"),
        (b"a%2Bb", "a+b"),
        (b"caf%C3%A9", "café"),
        (b"caf\xc3\xa9", "café"),  # raw UTF-8 bytes: the same text as percent-encoded ones
        (b"caf%E9", f"caf{R}"),
        (b"caf\xe9", f"caf{R}"),
        (b"%", "%"),
        (b"%zz", "%zz"),
        (b"caf%C3", f"caf{R}"),
    ],
)
def test_decode_form_component(raw: bytes, text: str) -> None:
    assert decode_form_component(raw) == text


def test_header_text() -> None:
    assert header_text("plain") == "plain"
    assert header_text("café".encode().decode("latin-1")) == "café"  # a header str holds one char per octet
    assert header_text(b"caf\xe9".decode("latin-1")) == f"caf{R}"
    assert header_text("✓") == "✓"  # already text: left alone


def test_cookies_are_utf8_with_replacement() -> None:
    header = b'a=caf\xc3\xa9; b=caf\xe9; c="caf\\303\\251"; d="\\377"'.decode("latin-1")
    assert parse_cookie_header(header) == {"a": "café", "b": f"caf{R}", "c": "café", "d": R}


def test_reference_parse_multipart_follows_the_same_policy() -> None:
    body = (
        f'--{B}\r\nContent-Disposition: form-data; name="n\xe9"\r\n\r\n'.encode("latin-1")
        + b"caf\xe9\r\n"
        + f'--{B}\r\nContent-Disposition: form-data; name="f"; filename="r\xe9.txt"\r\n\r\n'.encode("latin-1")
        + b"\xff\r\n"
        + f"--{B}--\r\n".encode()
    )
    fields, files = parse_multipart(body, f"multipart/form-data; boundary={B}")
    assert fields == {f"n{R}": [f"caf{R}"]}
    assert files["f"].filename == f"r{R}.txt"


def test_a_declared_charset_does_not_change_the_policy() -> None:
    """Starlette honoured ``charset=`` (and fell back to Latin-1); forms are UTF-8 (WHATWG), whatever is declared."""
    app = Gobstopper(__name__)

    @app.post("/f")
    async def f(request):
        return await request.form()

    body = (
        f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n'.encode() + b"caf\xe9\r\n" + f"--{B}--\r\n".encode()
    )
    for charset in ("latin-1", "no-such-charset", "utf-8"):
        r = TestClient(app).post(
            "/f", content=body, headers={"content-type": f"multipart/form-data; boundary={B}; charset={charset}"}
        )
        assert r.json() == {"a": [f"caf{R}"]}, charset


@pytest.mark.parametrize("client_class", [TestClient, RSGITestClient])
def test_websocket_receive_text_of_a_binary_message(client_class: type) -> None:
    app = Gobstopper(__name__)

    @app.websocket("/ws")
    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    with client_class(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"caf\xe9 \xc3\xa9")
        assert ws.receive_text() == f"caf{R} é"
