"""What apps and blueprints registered for their templates (filters, globals, tests, context processors),
kept on the app or blueprint itself; read by the templates extension, written by the decorators."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

#: Bumped on every template registration anywhere (filters, globals, tests, context processors): the extension
#: re-reads the registries when it changed.
generation = [0]


class TemplateRegistry:
    """What an app or a blueprint registered for its templates."""

    __slots__ = ("context_processors", "filters", "globals", "tests")

    def __init__(self) -> None:
        self.filters: dict[str, Callable[..., Any]] = {}
        self.globals: dict[str, Any] = {}
        self.tests: dict[str, Callable[..., bool]] = {}
        #: ``(func, takes_request)`` in registration order.
        self.context_processors: list[tuple[Callable[..., Any], bool]] = []


def template_registry(owner: Any) -> TemplateRegistry:
    """The registry of an app or blueprint (created on first use: most apps never have one)."""
    registry = owner.__dict__.get("_template_registry")
    if registry is None:
        registry = owner.__dict__["_template_registry"] = TemplateRegistry()
    return registry  # type: ignore[no-any-return]


def _takes_request(func: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
