"""The one policy for text that arrives as bytes from the wire: UTF-8, and U+FFFD for anything that is not.

It applies to the path (servers decode it; the in-process clients do the same), the query string, urlencoded and
multipart form fields (names, values and file names), cookies and WebSocket text read from binary messages.
Nothing is decoded as Latin-1 and nothing raises (WHATWG's URL and ``application/x-www-form-urlencoded`` parsers
and Django's cookie and form decoding behave the same way).

Header values themselves are not text: they are octets (RFC 9110 §5.5), exposed byte for byte as Latin-1 ``str``
(the ASGI and WSGI convention), so ``value.encode("latin-1")`` gives the bytes back. Only where a header's
content is read *as text* (cookies, a multipart part's ``Content-Disposition``) does this policy apply. Granian's
RSGI interface hides header values that are not visible ASCII altogether (docs/guide.md).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

__all__ = ["decode_form_component", "decode_wire", "header_text"]


def decode_wire(data: bytes | bytearray) -> str:
    """Bytes from the wire as text: UTF-8, each invalid sequence replaced by U+FFFD."""
    return data.decode("utf-8", "replace")


def decode_form_component(data: bytes | bytearray) -> str:
    """One name or value of an urlencoded body or query string: ``+`` is a space, ``%XX`` a byte, then UTF-8.

    Raw non-ASCII bytes and percent-encoded ones are decoded alike (the bytes first, then the text), so
    ``caf%C3%A9`` and the raw bytes ``caf\\xc3\\xa9`` both give ``café``, and ``%FF`` gives U+FFFD.
    """
    return decode_wire(unquote_to_bytes(bytes(data).replace(b"+", b" ")))


def header_text(value: str) -> str:
    """Read a header value (Latin-1 ``str``, one character per octet) as text under the wire policy."""
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # already text (a header source that decoded it itself)
        return value
    return decode_wire(raw)
