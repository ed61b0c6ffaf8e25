"""Building ``Set-Cookie`` values and parsing ``Cookie`` headers, both strict and linear-time."""

from __future__ import annotations

import datetime
import functools
import re
import warnings
from email.utils import format_datetime

from .._env import env_flag, read_env
from ._text import header_text

_COOKIE_OCTETS = re.compile(r"[!#-+\-./0-9:<-\[\]-~]*")  # RFC 6265 cookie-octet
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_ATTR = re.compile(r"[\x00-\x1f\x7f;]")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
#: Browsers drop cookies larger than this (name + value + attributes, RFC 6265 §6.1 recommends 4096).
MAX_COOKIE_BYTES = 4093


@functools.cache
def production_cookie_policy() -> bool:
    """Whether cookie security attributes are forced (``ENV=production`` and no explicit opt-out).

    Read once per process: the environment is configuration, not per-request input.
    """
    production = read_env("ENV", str.lower, "") == "production"
    return production and not env_flag("GOBSTOPPER_ALLOW_INSECURE_COOKIES")


def quote_cookie_value(value: str) -> str:
    """``value`` as is when it is made of RFC 6265 cookie-octets, else double-quoted with ``\\`` escapes.

    Characters outside printable ASCII become ``\\ooo`` octal escapes of their UTF-8 bytes (the convention of
    Python's ``http.cookies``), so the header stays ASCII on every server.
    """
    if _COOKIE_OCTETS.fullmatch(value):
        return value
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode())
    out.append('"')
    return "".join(out)


def unquote_cookie_value(value: str) -> str:
    """Reverse :func:`quote_cookie_value`, in linear time (CPython's own ``_unquote`` was quadratic)."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    out = bytearray()
    i, n = 0, len(inner)
    while i < n:
        ch = inner[i]
        if ch == "\\" and i + 1 < n:
            octal = inner[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            out.extend(inner[i + 1].encode())
            i += 2
            continue
        out.extend(ch.encode())
        i += 1
    return out.decode("utf-8", "replace")


def _http_date(value: datetime.datetime | int | float | str) -> str:
    if isinstance(value, str):
        if _FORBIDDEN_ATTR.search(value):
            raise ValueError("cookie expires contains a control character or ';'")
        return value
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return format_datetime(value.astimezone(datetime.UTC), usegmt=True)


def build_set_cookie(
    name: str,
    value: str = "",
    *,
    max_age: int | datetime.timedelta | None = None,
    expires: datetime.datetime | int | float | str | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = True,
    httponly: bool = True,
    samesite: str | None = "Lax",
    partitioned: bool = False,
) -> str:
    """The value of one ``Set-Cookie`` header.

    Raises:
        ValueError: a name that is not a token, an attribute with ``;`` or control characters, an unknown
            ``samesite``, or a cookie larger than browsers keep.
    """
    if not isinstance(name, str) or _COOKIE_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid cookie name {name!r}")
    if not isinstance(value, str):
        raise ValueError(f"cookie {name!r} value must be a str")
    if production_cookie_policy():
        secure, httponly = True, True
        if samesite is None or samesite.lower() == "none":
            warnings.warn("ENV=production: SameSite forced to Lax", stacklevel=3)
            samesite = "Lax"
    parts = [f"{name}={quote_cookie_value(value)}"]
    if max_age is not None:
        if isinstance(max_age, datetime.timedelta):
            max_age = int(max_age.total_seconds())
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={_http_date(expires)}")
    for attr, attr_value in (("Domain", domain), ("Path", path)):
        if attr_value is not None:
            if _FORBIDDEN_ATTR.search(attr_value):
                raise ValueError(f"cookie {attr} contains a control character or ';'")
            parts.append(f"{attr}={attr_value}")
    if samesite is not None:
        canonical = _SAMESITE.get(str(samesite).lower())
        if canonical is None:
            raise ValueError(f"samesite must be 'Strict', 'Lax' or 'None', not {samesite!r}")
        if canonical == "None":
            secure = True  # browsers reject SameSite=None without Secure
        parts.append(f"SameSite={canonical}")
    if secure or partitioned:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    header = "; ".join(parts)
    if len(header.encode()) > MAX_COOKIE_BYTES:
        raise ValueError(f"cookie {name!r} is larger than {MAX_COOKIE_BYTES} bytes; browsers would drop it")
    return header


def parse_cookie_header(header: str, max_cookies: int | None = None) -> dict[str, str]:
    """Parse a (possibly joined) ``Cookie`` header into ``{name: value}``.

    Nameless pairs are ignored and the first occurrence of a name wins (browsers send the most specific cookie
    first). Quoted values are unquoted. Parsing is linear in the header length. ``header`` is the header as
    requests hold it (one character per octet); names and values are read as UTF-8, with U+FFFD for invalid
    bytes (the wire policy, ``http/_text.py``): browsers send ``document.cookie`` text as UTF-8.

    Raises:
        ValueError: more than ``max_cookies`` cookies.
    """
    cookies: dict[str, str] = {}
    count = 0
    for chunk in header_text(header).split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        count += 1
        if max_cookies is not None and count > max_cookies:
            raise ValueError(f"more than {max_cookies} cookies")
        if name not in cookies:
            cookies[name] = unquote_cookie_value(value.strip())
    return cookies
