"""Content negotiation on the ``Accept`` header (RFC 9110 §12.5.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .errors import HTTPException

if TYPE_CHECKING:
    from .response import Response


class AcceptSource(Protocol):
    """What negotiation needs from a request (``gobstopper.http.request.Request`` has it)."""

    def header(self, name: str, default: str | None = None) -> str | None: ...

#: Longer Accept headers are not parsed (the rest is ignored): parsing stays linear and bounded.
MAX_ACCEPT_ITEMS = 64


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """``[(media range, q)]`` in preference order (higher q first, then more specific, then as sent)."""
    if not header:
        return [("*/*", 1.0)]
    ranges = []
    for index, item in enumerate(header.split(",")[:MAX_ACCEPT_ITEMS]):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media.lower(), q, -specificity, index))
    ranges.sort(key=lambda r: (-r[1], r[2], r[3]))
    return [(media, q) for media, q, _, _ in ranges]


def _matches(media_range: str, offer: str) -> bool:
    if media_range == "*/*":
        return True
    if media_range.endswith("/*"):
        return offer.split("/")[0] == media_range[:-2]
    return media_range == offer


def best_match(header: str | None, offers: Iterable[str]) -> str | None:
    """The offer the client prefers, or ``None`` when it accepts none of them (q=0 excludes)."""
    offers = [o.lower() for o in offers]
    ranges = parse_accept(header)
    best: tuple[float, int, int] | None = None
    chosen = None
    for position, offer in enumerate(offers):
        # The most specific range matching an offer decides its q (so text/html;q=0 beats */*).
        matching = [(q, 2 if "*" not in m else 1 if m != "*/*" else 0) for m, q in ranges if _matches(m, offer)]
        if not matching:
            continue
        q, specificity = max(matching, key=lambda qs: qs[1])
        if q <= 0:
            continue
        key = (q, specificity, -position)
        if best is None or key > best:
            best, chosen = key, offer
    return chosen


def accepts(header: str | None, mimetype: str) -> bool:
    """Whether the client accepts ``mimetype``."""
    return best_match(header, [mimetype]) is not None


def negotiate(request: AcceptSource, offers: Iterable[str]) -> str:
    """The best offer for this request.

    Raises:
        HTTPException: 406 when the client accepts none of the offers.
    """
    offers = list(offers)
    choice = best_match(request.header("accept"), offers)
    if choice is None:
        raise HTTPException(406, f"None of the available types is acceptable: {', '.join(offers)}.")
    return choice


def negotiate_response(request: AcceptSource, renderers: Mapping[str, Callable[[], Any]]) -> Response:
    """Call the renderer of the best type (``{"application/json": ..., "text/html": ...}``) and answer with it.

    Raises:
        HTTPException: 406 when none is acceptable.
    """
    from ..core._returns import to_response

    choice = negotiate(request, renderers)
    response = to_response(renderers[choice]())
    response.headers["content-type"] = (
        choice if "charset" in choice or not choice.startswith("text/") else (f"{choice}; charset=utf-8")
    )
    response.headers.add("vary", "Accept")
    return response
