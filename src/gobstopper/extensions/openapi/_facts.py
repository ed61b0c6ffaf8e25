"""What the app knows about its routes, as OpenAPI needs it: the one place this package reads the app, through
its public route table (``app.route_table``), ``app.blueprints`` and ``app.mounts``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._native.pattern import get_convertor

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
    order, mounted apps after the app's own routes; read from the public route table (``app.route_table``)."""
    facts = []
    for record in app.route_table:
        hints = record.annotations
        params = tuple(
            ParamFacts(p.name, p.convertor, hints.get(p.name, MISSING), get_convertor(p.convertor).regex)
            for p in record.params
        )
        facts.append(
            RouteFacts(
                pattern=prefix + record.pattern,
                methods=record.methods,
                name=record.name,
                handler=record.handler,
                blueprints=tuple(app.blueprints[name] for name in record.blueprints),
                params=params,
                body=record.body,
                returns=record.return_annotation,
                doc=record.doc,
                websocket=record.websocket,
                mount=prefix,
            )
        )
    for mount_prefix, sub in app.mounts:
        facts += _route_facts(sub, prefix + mount_prefix)
    return facts


def _route_version(app: Any) -> tuple[Any, ...]:
    """A value that changes whenever routes are added to ``app`` or to an app mounted on it (routes are never
    removed), so a document built from :func:`_route_facts` knows when it is stale."""
    return (len(app.route_table), tuple((prefix, _route_version(sub)) for prefix, sub in app.mounts))
