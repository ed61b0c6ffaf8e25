"""What the app knows about its routes, as plain records: the one place this package reads app internals.

The lead is building a public, read-only route table (``app.route_table``, DESIGN.md §10). Until it lands,
:func:`_route_facts` builds the same facts from today's ``app.routes`` / ``app.websocket_routes`` (``Route``
objects), ``app._mounts`` and :func:`gobstopper.core._router.parse_pattern`; nothing else in the package touches
the app's internals, so switching to the route table changes this module only.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core._convertors import get_convertor
from ...core._router import parse_pattern

#: The annotation of a handler without a return annotation.
MISSING = inspect.Signature.empty


@dataclass(frozen=True)
class ParamFacts:
    """One path parameter: its name, its convertor's name and regex, the handler's annotation (or ``MISSING``)."""

    name: str
    convertor: str
    annotation: Any = MISSING
    regex: str = "[^/]+"


@dataclass(frozen=True)
class RouteFacts:
    """One route as OpenAPI needs it.

    Attributes:
        pattern: the full Flask-style pattern, mount prefixes included (``/api/users/<int:id>``).
        methods: upper-case methods as registered (``HEAD`` is implied by ``GET``); empty for WebSockets.
        name: the route's endpoint name (``"api.get_user"``).
        handler: the handler as registered.
        blueprints: the blueprint objects the route was registered through, outermost first.
        params: the path parameters in pattern order.
        body: ``(parameter name, model)`` for a ``msgspec.Struct``-annotated handler parameter decoded from the
            body (JSON or form), else ``None``.
        returns: the handler's resolved return annotation, or ``MISSING``.
        doc: the handler's docstring, cleaned (``inspect.getdoc``), or ``None``.
        websocket: whether this is a WebSocket route.
        mount: the prefix of the mounted app the route belongs to (``""`` for the app itself).
    """

    pattern: str
    methods: tuple[str, ...]
    name: str
    handler: Callable[..., Any]
    blueprints: tuple[Any, ...]
    params: tuple[ParamFacts, ...]
    body: tuple[str, Any] | None
    returns: Any
    doc: str | None
    websocket: bool
    mount: str = ""


def _route_facts(app: Any, prefix: str = "") -> list[RouteFacts]:
    """Every HTTP and WebSocket route of ``app`` and of the apps mounted on it (recursively), in registration
    order, mounted apps after the app's own routes."""
    facts = []
    for route in [*app.routes, *app.websocket_routes]:
        hints = _hints(route.handler)
        params = tuple(
            ParamFacts(name, convertor, hints.get(name, MISSING), get_convertor(convertor).regex)
            for segment in parse_pattern(route.pattern)
            for name, convertor in zip(segment.param_names, segment.convertor_names)
        )
        facts.append(
            RouteFacts(
                pattern=prefix + route.pattern,
                methods=tuple(route.methods),
                name=route.name,
                handler=route.handler,
                blueprints=tuple(route.blueprints),
                params=params,
                body=route.struct_param,
                returns=hints.get("return", MISSING),
                doc=_doc(route.handler),
                websocket=bool(route.websocket),
                mount=prefix,
            )
        )
    for mount_prefix, sub in getattr(app, "_mounts", ()):
        facts += _route_facts(sub, prefix + mount_prefix)
    return facts


def _target(handler: Any) -> Any:
    """The function behind a handler: itself, a partial's function, or a callable object's ``__call__``."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if inspect.isfunction(handler) or inspect.ismethod(handler):
        return handler
    return getattr(handler, "__call__", handler)  # noqa: B004 - callable objects


def _doc(handler: Any) -> str | None:
    return inspect.getdoc(_target(handler))


def _hints(handler: Callable[..., Any]) -> dict[str, Any]:
    """The handler's resolved annotations (return included); one that cannot be resolved is left out."""
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


def _route_version(app: Any) -> tuple[Any, ...]:
    """A value that changes whenever routes are added to ``app`` or to an app mounted on it (routes are never
    removed), so a document built from :func:`_route_facts` knows when it is stale."""
    mounts = getattr(app, "_mounts", ())
    return (
        len(app.routes),
        len(app.websocket_routes),
        tuple((prefix, _route_version(sub)) for prefix, sub in mounts),
    )
