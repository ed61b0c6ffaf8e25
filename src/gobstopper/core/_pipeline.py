"""Routes and their request pipelines: hooks and middleware composed once per route, not per request."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec

from ..http.errors import BadRequest
from ..http.forms import FORM_TYPES
from ..http.response import Response
from ._convertors import ANNOTATION_CASTS
from ._returns import to_response
from ._scaffold import MiddlewareEntry

if TYPE_CHECKING:
    from ..http.request import Request
    from .app import Gobstopper
    from .blueprint import Blueprint

Endpoint = Callable[["Request"], Awaitable[Response]]

#: Methods whose declared body size is checked against the limit before the handler runs.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Annotations a ``str`` path parameter is converted to, and how (strict and finite, as the convertors).
_CASTS: dict[Any, Callable[[str], Any]] = ANNOTATION_CASTS


class Route:
    """A registered handler with everything dispatch needs, computed at registration."""

    __slots__ = (
        "app",
        "blueprints",
        "casts",
        "direct",
        "handler",
        "is_async",
        "max_body_bytes",
        "methods",
        "name",
        "param_names",
        "pattern",
        "pipeline",
        "struct_param",
        "takes_body",
        "websocket",
    )

    def __init__(
        self,
        app: Gobstopper,
        pattern: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str,
        blueprints: tuple[Blueprint, ...] = (),
        max_body_bytes: int | None = None,
        websocket: bool = False,
        param_names: tuple[str, ...] = (),
        str_params: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.pattern = pattern
        self.methods = methods
        # Whether a request to this route can carry a body whose declared size is checked before the handler.
        self.takes_body = any(method.upper() in BODY_METHODS for method in methods)
        self.handler = handler
        self.name = name
        self.blueprints = blueprints
        self.max_body_bytes = max_body_bytes
        self.websocket = websocket
        self.param_names = param_names
        self.is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self.casts, self.struct_param = _inspect_parameters(handler, param_names, str_params)
        self.pipeline: Endpoint | None = None
        # The handler itself when the route has nothing around it (set by build(), cleared on changes): the
        # app then awaits it without an intermediate pipeline coroutine.
        self.direct: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"<Route {'|'.join(self.methods) or 'WS'} {self.pattern} -> {self.name}>"

    def middleware_entries(self) -> list[MiddlewareEntry]:
        """App middleware (by priority), then each blueprint's from the outermost (by priority)."""
        entries = sorted(self.app.middleware, key=lambda e: (-e.priority, e.order))
        for bp in self.blueprints:
            entries += sorted(bp.middleware, key=lambda e: (-e.priority, e.order))
        return entries

    def build(self) -> Endpoint:
        """Compose (once) the hooks, handler call and middleware of this route."""
        app = self.app
        before = list(app.before_request_funcs)
        after = list(app.after_request_funcs)
        for bp in self.blueprints:
            before += bp.before_request_funcs
            after += bp.after_request_funcs
        endpoint = _endpoint(self, before, after)
        entries = self.middleware_entries()
        for entry in reversed(entries):
            endpoint = wrap_middleware(entry.middleware, endpoint)
        self.pipeline = endpoint
        simple = self.is_async and not (before or after or entries or self.casts or self.struct_param)
        self.direct = self.handler if simple else None
        return endpoint


def _inspect_parameters(
    handler: Callable[..., Any], param_names: tuple[str, ...], str_params: frozenset[str]
) -> tuple[dict[str, Callable[[str], Any]], tuple[str, Any] | None]:
    """Annotation-driven casts for ``str`` path parameters, and the first ``msgspec.Struct`` body parameter."""
    hints = _annotations(handler)
    casts = {}
    for name in param_names:
        cast = _CASTS.get(hints.get(name))
        if cast is not None and name in str_params:
            casts[name] = cast
    struct_param = None
    try:
        parameters = list(inspect.signature(handler).parameters.values())[1:]
    except (TypeError, ValueError):
        parameters = []
    for parameter in parameters:
        hint = hints.get(parameter.name)
        if parameter.name not in param_names and isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            struct_param = (parameter.name, hint)
            break
    return casts, struct_param


def _annotations(handler: Callable[..., Any]) -> dict[str, Any]:
    """Resolved parameter annotations; one that cannot be resolved (a local class under
    ``from __future__ import annotations``) is skipped, not fatal."""
    try:
        return typing.get_type_hints(handler)
    except Exception:
        pass
    resolved = {}
    namespace = getattr(handler, "__globals__", {})
    for name, annotation in getattr(handler, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)
            except Exception:
                continue
        resolved[name] = annotation
    return resolved


async def call_hook(func: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async hook; sync ones run on the loop (they must not block)."""
    rv = func(*args)
    if inspect.isawaitable(rv):
        rv = await rv
    return rv


def _endpoint(route: Route, before: list[Callable[..., Any]], after: list[Callable[..., Any]]) -> Endpoint:
    handler = route.handler
    app = route.app
    handle_exception = app.handle_exception
    casts = route.casts
    struct_param = route.struct_param

    if route.is_async and not (before or after or casts or struct_param):
        # The hot path: nothing but the handler (PERFORMANCE.md: every microsecond counts). A return value
        # that cannot be converted raises out of here and becomes a 500 in ``Gobstopper.handle``.
        if not route.param_names:

            async def fast_no_params(request: Request) -> Response:
                try:
                    if request.method in BODY_METHODS:
                        request.refuse_oversized_body()
                    rv = await handler(request)
                except Exception as exc:
                    return await handle_exception(request, exc)
                return rv if isinstance(rv, Response) else to_response(rv)

            return fast_no_params

        async def fast(request: Request) -> Response:
            try:
                if request.method in BODY_METHODS:
                    request.refuse_oversized_body()
                rv = await handler(request, **request._params)
            except Exception as exc:
                return await handle_exception(request, exc)
            return rv if isinstance(rv, Response) else to_response(rv)

        return fast

    async def full(request: Request) -> Response:
        try:
            for hook in before:
                rv = await call_hook(hook, request)
                if rv is not None:
                    return to_response(rv)
            if request.method in BODY_METHODS:
                request.refuse_oversized_body()
            params = request._params or {}  # None for a route without parameters
            if casts or struct_param:
                params = dict(params)
                for name, cast in casts.items():
                    try:
                        params[name] = cast(params[name])
                    except (ValueError, KeyError, OverflowError):
                        raise BadRequest(f"Invalid value for path parameter {name!r}.") from None
                if struct_param is not None:
                    # Decoded here, inside middleware and after limits (the reference decoded before both);
                    # from the JSON body, or from the fields of a form body.
                    name, model = struct_param
                    if request.mimetype in FORM_TYPES:
                        params[name] = await request.form(model)
                    else:
                        params[name] = await request.json(model)
            if route.is_async:
                rv = await handler(request, **params)
            else:
                rv = await anyio.to_thread.run_sync(functools.partial(handler, request, **params))
            response = to_response(rv)
        except Exception as exc:
            return await handle_exception(request, exc)
        for hook in after:
            rv = await call_hook(hook, request, response)
            if rv is not None:
                response = to_response(rv)
        return response

    return full


def wrap_middleware(middleware: Callable[..., Any], call_next: Endpoint) -> Endpoint:
    """``middleware(request, call_next)`` as an endpoint; its return value is converted like a handler's."""

    async def call(request: Request) -> Response:
        rv = middleware(request, call_next)
        if inspect.isawaitable(rv):
            rv = await rv
        return rv if isinstance(rv, Response) else to_response(rv)

    call.__name__ = getattr(middleware, "__name__", type(middleware).__name__)
    return call
