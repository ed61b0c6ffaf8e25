"""The route table: every route parsed once, at registration, into a read-only record.

The router, ``url_for``, OpenAPI, the CLI's ``routes`` command and Mission Control all read these records
(``app.route_table``); nothing parses a pattern again. A record holds the pattern (prefixes joined), its segments
and parameters, the ``url_for`` format, the methods, the name, the blueprint chain and what the handler's signature
says (annotation casts for ``str`` parameters, a ``msgspec.Struct`` body parameter, the return annotation, the
docstring).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec

from .._native.pattern import ANNOTATION_CASTS, ParsedSegment, parse_pattern

# Annotations a ``str`` path parameter is converted to, and how (docs/design.md §3): strict and finite.
_CASTS: dict[Any, Callable[[str], Any]] = ANNOTATION_CASTS


def join_path(*parts: str) -> str:
    """Join URL prefixes and a rule with exactly one ``/`` between each (Flask's rule), always starting with ``/``.

    A trailing slash of the last part is kept, so ``join_path("/a/", "c/") == "/a/c/"`` and
    ``join_path("/api", "/") == "/api/"``; an empty part adds nothing (``join_path("/api", "") == "/api"``).
    Rules without a leading slash are joined the same way (``join_path("", "users") == "/users"``).
    """
    path = ""
    for part in parts:
        if not part:
            continue
        path = path.rstrip("/") + "/" + part.lstrip("/")
    return path or "/"


def clean_prefix(prefix: str | None) -> str:
    """A URL prefix as stored: ``""`` for none, else starting with ``/`` and without a trailing ``/``.

    Raises:
        ValueError: a prefix that does not start with ``/``.
    """
    if not prefix:
        return ""
    if not prefix.startswith("/"):
        raise ValueError(f"URL prefix {prefix!r} must start with '/'")
    return prefix.rstrip("/")


@dataclass(frozen=True, slots=True)
class Param:
    """A path parameter: its name and convertor (``str``, ``int``, ``float``, ``uuid``, ``path``, ``date`` or a
    registered custom one)."""

    name: str
    convertor: str


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """One route of the table (``app.route_table``), read-only.

    Attributes:
        pattern: the full pattern in Flask syntax, prefixes joined (``/api/users/<int:id>``).
        methods: upper-case HTTP methods as registered; ``()`` for a WebSocket route (``HEAD`` is served by
            ``GET`` routes and ``OPTIONS`` answered automatically, without being listed here).
        name: the ``url_for`` name (``"bp.func"`` under blueprints).
        handler: the registered function.
        websocket: whether this is a WebSocket route.
        blueprints: the qualified names of the blueprint chain, outermost first (``("api", "api.v1")``).
        params: the path parameters in order.
        segments: the parsed pattern (what the routers are built from).
        url_format: ``str.format`` template of the path (``/api/users/{id}``).
        casts: annotation-driven conversions of ``str`` parameters (``user_id: int``), by name.
        body: ``(parameter name, msgspec.Struct type)`` decoded from the request body, or ``None``.
        annotations: the handler's resolved annotations by parameter name (``"return"`` included); one that
            cannot be resolved is left out.
        return_annotation: the handler's return annotation, or ``inspect.Signature.empty``.
        doc: the handler's docstring (cleaned), or ``None``.
        is_async: whether the handler is a coroutine function (sync ones run in a thread).
        max_body_bytes: the body limit of the route (its own or its innermost blueprint's), or ``None``.
    """

    pattern: str
    methods: tuple[str, ...]
    name: str
    handler: Callable[..., Any]
    websocket: bool
    blueprints: tuple[str, ...]
    params: tuple[Param, ...]
    segments: tuple[ParsedSegment, ...]
    url_format: str
    casts: dict[str, Callable[[str], Any]]
    body: tuple[str, Any] | None
    annotations: Mapping[str, Any]
    return_annotation: Any
    doc: str | None
    is_async: bool
    max_body_bytes: int | None

    @property
    def is_static(self) -> bool:
        """Whether the pattern has no parameter (one exact path)."""
        return not self.params


def build_record(
    pattern: str,
    methods: tuple[str, ...],
    handler: Callable[..., Any],
    name: str,
    *,
    websocket: bool = False,
    blueprints: tuple[str, ...] = (),
    max_body_bytes: int | None = None,
) -> RouteRecord:
    """Parse ``pattern`` and inspect ``handler`` once, into a record.

    Raises:
        ValueError: the pattern is malformed (see :func:`gobstopper._native.pattern.parse_pattern`).
    """
    segments = tuple(parse_pattern(pattern))
    params = tuple(Param(n, c) for s in segments for n, c in zip(s.param_names, s.convertor_names))
    hints = _annotations(handler)
    casts = {}
    for param in params:
        cast = _CASTS.get(hints.get(param.name))
        if cast is not None and param.convertor == "str":
            casts[param.name] = cast
    names = {p.name for p in params}
    try:
        signature: inspect.Signature | None = inspect.signature(handler)
    except (TypeError, ValueError):
        signature = None
    body = None
    if signature is not None and not websocket:
        for parameter in list(signature.parameters.values())[1:]:
            hint = hints.get(parameter.name)
            if parameter.name not in names and isinstance(hint, type) and issubclass(hint, msgspec.Struct):
                body = (parameter.name, hint)
                break
    return RouteRecord(
        pattern=pattern,
        methods=methods,
        name=name,
        handler=handler,
        websocket=websocket,
        blueprints=blueprints,
        params=params,
        segments=segments,
        url_format="/" + "/".join(_segment_format(s) for s in segments),
        casts=casts,
        body=body,
        annotations=MappingProxyType(hints),
        return_annotation=hints.get("return", inspect.Signature.empty),
        doc=inspect.getdoc(_target(handler)),
        is_async=is_coroutine_callable(handler),
        max_body_bytes=max_body_bytes,
    )


def is_coroutine_callable(func: Any) -> bool:
    """Whether calling ``func`` returns a coroutine (async functions and objects with an async ``__call__``)."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))  # noqa: B004


def _segment_format(segment: ParsedSegment) -> str:
    def literal(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")  # str.format's own braces

    parts = [literal(segment.literals[0])]
    for name, text in zip(segment.param_names, segment.literals[1:]):
        parts.append("{" + name + "}")
        parts.append(literal(text))
    return "".join(parts)


def _target(handler: Any) -> Any:
    """The function behind a handler: itself, a partial's function, or a callable object's ``__call__``."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if inspect.isfunction(handler) or inspect.ismethod(handler):
        return handler
    return getattr(handler, "__call__", handler)  # noqa: B004 - callable objects


def _annotations(handler: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; one that cannot be resolved (a local class under ``from __future__ import
    annotations``) is skipped, not fatal."""
    target = _target(handler)
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    resolved = {}
    namespace = getattr(target, "__globals__", {})
    for name, annotation in getattr(target, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)
            except Exception:
                continue
        resolved[name] = annotation
    return resolved
