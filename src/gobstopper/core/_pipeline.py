"""Routes as dispatch runs them: a record plus its request pipeline (hooks and middleware composed once per route,
rebuilt only when registration changes), and :func:`invoke`, the one place a handler is called."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ..http.errors import BadRequest
from ..http.forms import FORM_TYPES
from ..http.response import Response
from ._returns import to_response
from ._scaffold import MiddlewareEntry

if TYPE_CHECKING:
    from ..http.request import Request
    from .routes import RouteRecord

Endpoint = Callable[["Request"], Awaitable[Response]]
HandleException = Callable[["Request", Exception], Awaitable[Response]]

#: Methods whose declared body size is checked against the limit before the handler runs.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Route:
    """A route of the table as dispatch runs it: its record, the scaffolds around it (app, then blueprints from
    the outermost) and its composed pipeline."""

    __slots__ = ("direct", "handler", "max_body_bytes", "pipeline", "record", "scaffolds", "takes_body")

    def __init__(self, record: RouteRecord, scaffolds: Sequence[Any]) -> None:
        self.record = record
        self.scaffolds = tuple(scaffolds)
        self.handler = record.handler
        self.max_body_bytes = record.max_body_bytes
        # Whether a request to this route can carry a body whose declared size is checked before the handler.
        self.takes_body = any(method in BODY_METHODS for method in record.methods)
        self.pipeline: Endpoint | None = None
        # The handler itself when nothing surrounds it (set by build(), cleared on changes): dispatch then awaits
        # it without a pipeline coroutine in between.
        self.direct: Callable[..., Any] | None = None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def pattern(self) -> str:
        return self.record.pattern

    def __repr__(self) -> str:
        return f"<Route {'|'.join(self.record.methods) or 'WS'} {self.record.pattern} -> {self.record.name}>"

    def middleware_entries(self) -> list[MiddlewareEntry]:
        """Middleware around this route: the app's (by priority), then each blueprint's from the outermost (by
        priority), leaving out middleware scoped to a path prefix this route can never match."""
        entries: list[MiddlewareEntry] = []
        for scaffold in self.scaffolds:
            entries += sorted(scaffold.middleware, key=lambda e: (-e.priority, e.order))
        return [e for e in entries if can_reach(self.record, getattr(e.middleware, "path_prefix", None))]

    def reset(self) -> None:
        """Registration changed: compose the pipeline again on the next request."""
        self.pipeline = self.direct = None

    def build(self, handle_exception: HandleException) -> Endpoint:
        """Compose (once) the hooks, the handler call and the middleware of this route."""
        before: list[Callable[..., Any]] = []
        after: list[Callable[..., Any]] = []
        for scaffold in self.scaffolds:
            before += scaffold.before_request_funcs
            after += scaffold.after_request_funcs
        entries = self.middleware_entries()
        endpoint = _endpoint(self, before, after, handle_exception)
        for entry in reversed(entries):
            endpoint = wrap_middleware(entry.middleware, endpoint)
        self.pipeline = endpoint
        record = self.record
        simple = record.is_async and not (before or after or entries or record.casts or record.body)
        self.direct = self.handler if simple else None
        return endpoint


def can_reach(record: RouteRecord, prefix: str | None) -> bool:
    """Whether a request to ``record`` can have a path under ``prefix`` (``None``: any path).

    Middleware scoped to a prefix (``StaticFileMiddleware``'s ``path_prefix``) does nothing elsewhere, so routes
    that can never see such a path are composed without it: a static folder costs the rest of the app nothing.
    """
    if not prefix or prefix == "/":
        return True
    wanted = prefix.strip("/").split("/")
    for index, part in enumerate(wanted):
        if index >= len(record.segments):
            return False
        segment = record.segments[index]
        if not segment.is_static:
            return True  # a placeholder could take any value, the prefix's included
        if segment.literals[0] != part:
            return False
    return True


async def invoke(route: Route, request: Request) -> Response:
    """Call the handler of ``route`` for ``request`` and convert what it returns; the one place handlers are called.

    Before the call: the declared body size against the limit (413), annotation casts of ``str`` path parameters
    (400), and a ``msgspec.Struct`` parameter decoded from the JSON or form body, after middleware and limits ran
    (415 / 422). Sync handlers run in a worker thread.

    Raises:
        HTTPException: from the checks above or the handler.
        Exception: whatever the handler raises (the caller turns it into the error response).
    """
    record = route.record
    if route.takes_body and request.method in BODY_METHODS:
        request.refuse_oversized_body()
    params = request._params or {}  # None for a route without parameters
    if record.casts or record.body is not None:
        params = dict(params)
        for name, cast in record.casts.items():
            try:
                params[name] = cast(params[name])
            except (ValueError, KeyError, OverflowError):
                raise BadRequest(f"Invalid value for path parameter {name!r}.") from None
        if record.body is not None:
            name, model = record.body
            if request.mimetype in FORM_TYPES:
                params[name] = await request.form(model)
            else:
                params[name] = await request.json(model)
    if record.is_async:
        rv = await route.handler(request, **params)
    else:
        rv = await anyio.to_thread.run_sync(functools.partial(route.handler, request, **params))
    return rv if isinstance(rv, Response) else to_response(rv)


def _endpoint(
    route: Route,
    before: list[Callable[..., Any]],
    after: list[Callable[..., Any]],
    handle_exception: HandleException,
) -> Endpoint:
    if not (before or after):

        async def handler_only(request: Request) -> Response:
            try:
                return await invoke(route, request)
            except Exception as exc:
                return await handle_exception(request, exc)

        return handler_only

    async def with_hooks(request: Request) -> Response:
        try:
            for hook in before:
                rv = await call_hook(hook, request)
                if rv is not None:
                    return to_response(rv)
            response = await invoke(route, request)
        except Exception as exc:
            return await handle_exception(request, exc)
        for hook in after:
            rv = await call_hook(hook, request, response)
            if rv is not None:
                response = to_response(rv)
        return response

    return with_hooks


async def call_hook(func: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async hook; sync ones run on the loop (they must not block)."""
    rv = func(*args)
    if inspect.isawaitable(rv):
        rv = await rv
    return rv


def wrap_middleware(middleware: Callable[..., Any], call_next: Endpoint) -> Endpoint:
    """``middleware(request, call_next)`` as an endpoint; its return value is converted like a handler's."""

    async def call(request: Request) -> Response:
        rv = middleware(request, call_next)
        if inspect.isawaitable(rv):
            rv = await rv
        return rv if isinstance(rv, Response) else to_response(rv)

    call.__name__ = getattr(middleware, "__name__", type(middleware).__name__)
    return call
