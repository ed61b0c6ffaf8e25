"""Datastar (https://data-star.dev) responses and signals, with the event format of Datastar v1.

The events come from the official Python SDK, ``datastar-py`` (``pip install gobstopper[datastar]``): its
``ServerSentEventGenerator`` frames ``datastar-patch-elements`` and ``datastar-patch-signals`` exactly as the
Datastar client expects, so we use it rather than keep our own copy of the protocol. On top of it:

- ``Datastar``: the event builders, under the SDK's v1 names (``patch_elements``, ``patch_signals``,
  ``remove_elements``, ``execute_script``, ``redirect``) and the reference's older names
  (``merge_fragments``, ``remove_fragments``, ``merge_signals``), which emit the v1 events;
- ``DatastarResponse`` / ``datastar_response(...)``: an event stream (an ``EventSourceResponse``) of one event, a
  list, or a generator of events, with keep-alive comments and a prompt end when the client leaves;
- ``read_signals(request, into=None)`` (also ``await request.datastar()``): the signals a Datastar action sent,
  from the ``datastar`` query parameter (GET, DELETE) or the JSON body, optionally decoded into a
  ``msgspec.Struct``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..http._json import decode_json
from ..http.errors import BadRequest
from ..http.headers import HeadersInit
from ..http.sse import DEFAULT_PING_SECONDS, EventSourceResponse

try:
    from datastar_py import consts as _consts
    from datastar_py.sse import DatastarEvent, ServerSentEventGenerator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "gobstopper.extensions.datastar needs the datastar-py SDK: pip install 'gobstopper[datastar]'"
    ) from exc

#: Datastar's request header and query parameter (``Datastar-Request: true``, ``?datastar={...}``).
DATASTAR_REQUEST_HEADER = "datastar-request"
DATASTAR_QUERY_PARAM = "datastar"

#: Datastar v0 merge modes (the reference's ``merge_mode``) as v1 patch modes.
_V0_MODES = {
    "morph": "outer",
    "outer": "replace",
    "inner": "inner",
    "prepend": "prepend",
    "append": "append",
    "before": "before",
    "after": "after",
    "upsertattributes": "outer",
}
_V1_MODES = {mode.value for mode in _consts.ElementPatchMode}


def _mode(mode: str | None, v0: bool = False) -> Any:
    # v1 names first for patch_elements; v0 names first for merge_fragments ("outer" differs between them).
    if mode is None:
        return None
    key = str(mode)
    if key in _V1_MODES and not (v0 and key.lower() in _V0_MODES):
        return _consts.ElementPatchMode(key)
    v1 = _V0_MODES.get(key.lower()) if key.lower() in _V0_MODES else (key if key in _V1_MODES else None)
    if v1 is None:
        raise ValueError(f"unknown Datastar patch mode {mode!r}; use one of {sorted(_V1_MODES)}")
    return _consts.ElementPatchMode(v1)


class Datastar:
    """Datastar v1 events (each a ``str`` framed for an event stream), built by the official SDK.

    Example:
        >>> Datastar.merge_fragments('<div id="count">42</div>', selector="#count")
        'event: datastar-patch-elements\\ndata: selector #count\\ndata: elements <div id="count">42</div>\\n\\n'
    """

    #: The extension protocol's name, for ``app.register_extension(Datastar())`` (optional: nothing to set up).
    name = "datastar"

    def init_app(self, app: Any) -> None:
        """Nothing to set up: responses and signals need no app state."""

    @staticmethod
    def patch_elements(
        elements: Any = None,
        selector: str | None = None,
        mode: str | None = None,
        use_view_transition: bool | None = None,
        event_id: str | None = None,
        retry_duration: int | None = None,
    ) -> DatastarEvent:
        """A ``datastar-patch-elements`` event: morph ``elements`` (HTML, or an object with ``__html__``) into
        the page, matched by id or by ``selector``; ``mode`` is one of ``outer`` (default, morph), ``inner``,
        ``replace``, ``prepend``, ``append``, ``before``, ``after``, ``remove``."""
        return ServerSentEventGenerator.patch_elements(
            elements,
            selector=selector,
            mode=_mode(mode),
            use_view_transition=use_view_transition,
            event_id=event_id,
            retry_duration=retry_duration,
        )

    @staticmethod
    def merge_fragments(
        fragments: Any,
        selector: str | None = None,
        merge_mode: str | None = None,
        use_view_transition: bool | None = None,
        event_id: str | None = None,
        retry_duration: int | None = None,
    ) -> DatastarEvent:
        """The reference's name (Datastar v0) for :meth:`patch_elements`; v0 merge modes are mapped to v1
        (``morph`` → ``outer``, ``outer`` → ``replace``). ``fragments`` may also be a list of HTML strings."""
        if isinstance(fragments, (list, tuple)):
            fragments = "\n".join(str(f) for f in fragments)
        return ServerSentEventGenerator.patch_elements(
            fragments,
            selector=selector,
            mode=_mode(merge_mode, v0=True),
            use_view_transition=use_view_transition,
            event_id=event_id,
            retry_duration=retry_duration,
        )

    @staticmethod
    def remove_elements(selector: str, event_id: str | None = None, retry_duration: int | None = None) -> DatastarEvent:
        """Remove the elements matching ``selector``."""
        return ServerSentEventGenerator.remove_elements(selector, event_id=event_id, retry_duration=retry_duration)

    remove_fragments = remove_elements

    @staticmethod
    def patch_signals(
        signals: Mapping[str, Any] | str,
        only_if_missing: bool | None = None,
        event_id: str | None = None,
        retry_duration: int | None = None,
    ) -> DatastarEvent:
        """A ``datastar-patch-signals`` event (JSON merge patch of the page's signals; ``None`` removes one)."""
        return ServerSentEventGenerator.patch_signals(
            dict(signals) if isinstance(signals, Mapping) else signals,
            event_id=event_id,
            only_if_missing=only_if_missing,
            retry_duration=retry_duration,
        )

    merge_signals = patch_signals

    @staticmethod
    def execute_script(
        script: str,
        auto_remove: bool = True,
        attributes: Mapping[str, str] | list[str] | None = None,
        event_id: str | None = None,
        retry_duration: int | None = None,
    ) -> DatastarEvent:
        """Run ``script`` in the page (Datastar v1 appends a ``<script>`` to ``body``; removed after it ran)."""
        return ServerSentEventGenerator.execute_script(
            script, auto_remove=auto_remove, attributes=attributes, event_id=event_id, retry_duration=retry_duration
        )

    @staticmethod
    def redirect(location: str) -> DatastarEvent:
        """Send the browser to ``location``."""
        return ServerSentEventGenerator.redirect(location)


class DatastarResponse(EventSourceResponse):
    """An event stream of Datastar events.

    Args:
        events: one event (a ``str`` from :class:`Datastar`), an iterable of them, an async iterable / async
            generator yielding them (a long-lived stream), or ``None`` (an empty stream).
        status, headers: as for any response.
        ping: seconds of silence before a keep-alive comment (``None`` for none).
    """

    __slots__ = ()
    framed = True

    def __init__(
        self,
        events: Any = None,
        status: int = 200,
        headers: HeadersInit = None,
        ping: float | None = DEFAULT_PING_SECONDS,
    ) -> None:
        if events is None:
            events = ()
        elif isinstance(events, (str, bytes)):
            events = (events,)
        super().__init__(events, status=status, headers=headers, ping=ping)


def datastar_response(*events: Any, status: int = 200, headers: HeadersInit = None) -> DatastarResponse:
    """A :class:`DatastarResponse` of ``events``: events as arguments, or one iterable / async generator.

    Example:
        >>> return datastar_response(Datastar.merge_fragments('<div id="count">42</div>', selector="#count"))
    """
    if len(events) == 1 and not isinstance(events[0], (str, bytes)):
        return DatastarResponse(events[0], status=status, headers=headers)
    return DatastarResponse(list(events), status=status, headers=headers)


async def read_signals(request: Any, into: Any = None) -> Any:
    """The signals a Datastar action sent: from ``?datastar=...`` for GET and DELETE, else from the JSON body.

    Args:
        request: the current request.
        into: a ``msgspec.Struct`` (or any msgspec type) to decode the signals into; a ``dict`` by default.

    Returns:
        The signals; ``{}`` (or ``into``'s decoding of ``{}``) when the request carries none.

    Raises:
        BadRequest: the signals are not valid JSON, or nest deeper than ``request.max_json_depth`` (400).
        BodyValidationError: they do not fit ``into`` (422).
    """
    if request.method in ("GET", "DELETE"):
        values = request.args.get(DATASTAR_QUERY_PARAM)
        raw = values[0].encode() if values else b""
    else:
        raw = await request.get_data()
    if not raw.strip():
        raw = b"{}"
    signals = decode_json(raw, into, request.max_json_depth)
    if into is None and not isinstance(signals, dict):
        raise BadRequest("Datastar signals must be a JSON object.")
    return signals


def is_datastar_request(request: Any) -> bool:
    """Whether the request comes from a Datastar action (``Datastar-Request: true``)."""
    return request.header(DATASTAR_REQUEST_HEADER) == "true"  # type: ignore[no-any-return]


__all__ = [
    "Datastar",
    "DatastarEvent",
    "DatastarResponse",
    "datastar_response",
    "is_datastar_request",
    "read_signals",
]
