"""Open-redirect protection for ``?next=``-style parameters (Django's ``url_has_allowed_host_and_scheme``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


def _allowed(url: str, hosts: frozenset[str], require_https: bool) -> bool:
    if url.startswith("///"):
        return False
    try:
        info = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return False
    if not info.netloc and info.scheme:  # "http:999", "javascript:..."
        return False
    if unicodedata.category(url[0])[0] == "C":  # control characters browsers ignore ("\x08//evil")
        return False
    scheme = info.scheme or ("http" if info.netloc else "")
    schemes = ("https",) if require_https else ("http", "https")
    return (not info.netloc or info.netloc.lower() in hosts) and (not scheme or scheme.lower() in schemes)


def is_safe_redirect(url: str | None, allowed_hosts: Iterable[str] | str = (), require_https: bool = False) -> bool:
    """Whether redirecting to ``url`` stays on ``allowed_hosts`` (a relative URL always does).

    Backslashes are read as slashes too (browsers do), so ``/\\evil.com`` is refused, as are
    ``//evil.com``, ``javascript:…``, URLs starting with a control character and ``http://good\\@evil.com``.

    Args:
        url: the target, typically from ``?next=``.
        allowed_hosts: host names (with port, if any) that absolute URLs may point to.
        require_https: refuse absolute ``http:`` URLs.
    """
    if url is None:
        return False
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        return False
    hosts = frozenset({allowed_hosts} if isinstance(allowed_hosts, str) else allowed_hosts)
    hosts = frozenset(h.lower() for h in hosts)
    return _allowed(url, hosts, require_https) and _allowed(url.replace("\\", "/"), hosts, require_https)


def safe_redirect_target(request: Any, url: str | None, fallback: str = "/") -> str:
    """``url`` when it is safe for ``request``'s own host (HTTPS required on HTTPS), else ``fallback``."""
    try:
        host = request.host
        https = request.scheme == "https"
    except Exception:
        return fallback
    return url.strip() if url and is_safe_redirect(url, {host}, require_https=https) else fallback  # type: ignore[union-attr]


__all__ = ["is_safe_redirect", "safe_redirect_target"]
