"""Dispatch: how the core answers an HTTP request or a WebSocket handshake (what adapters call).

The app is a registry of data (routes, hooks, middleware, error handlers, mounts, settings); this module reads it
and owns what dispatch needs at run time: the routers and the exact-path table built from the route table, the
admission state (starting, serving, stopping), in-flight counting for the drain, and the open WebSockets. One
place runs admission, mounts, routing, the pipeline, the 404/405/400/308 fallback and errors, for both kinds of
request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import _native
from .._native.router import BAD_PARAM, FOUND, METHOD_NOT_ALLOWED, NOT_FOUND, RouteConflict, allowed_methods, target_for
from ..http._files import prepare_file
from ..http.errors import BadRequest, HTTPException, MethodNotAllowed, NotFound, ServiceUnavailable
from ..http.problem import render_http_exception
from ..http.response import BODILESS_STATUSES, FILE, Response, json_response, redirect, without_body
from ..websocket._run import NOT_ACCEPTED, origin_status, run_websocket
from ._pipeline import BODY_METHODS, Endpoint, Route, call_hook, wrap_middleware
from ._returns import to_response

if TYPE_CHECKING:
    from ..adapter import WebSocketChannel
    from ..http.request import Request
    from ..websocket.connection import WebSocket
    from .routes import RouteRecord

_URL_SAFE = "/:@!$&'()*+,;=-._~"
#: The router's answer for a path that is not origin-form (``*``, ``""``): a 400 through the fallback.
_NOT_ORIGIN_FORM: tuple[int, Any, Any] = (BAD_PARAM, None, "Invalid request target.")


class Dispatcher:
    """Answers requests for one app (``app.handle``, ``app.handle_websocket``). Never raises to the adapter."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.router, self.native = _native.new_router()
        self.ws_router, _ = _native.new_router(self.native)
        # Routes without parameters, by exact path then method (HEAD included by the router's rule): a dict hit
        # answers most requests before crossing into the router. Same result as the router's, a call fewer.
        self.exact: dict[str, dict[str, Route]] = {}
        self.routes: list[Route] = []
        self.websocket_routes: list[Route] = []
        self.fallback: Endpoint | None = None
        self.serving = False  # True once started and until shutdown: the per-request check is this one flag
        self.stopped = False
        self.inflight = 0
        self.drained: asyncio.Event | None = None
        self.websockets: set[WebSocket] = set()
        self.mounts: list[tuple[str, Any]] = app._mounts  # the app's own list: mounts added later are seen
        # Mission Control's seam (docs/mission-control.md). ``observe`` is None when it is off; when on, each request
        # adds one to its route's ``hits`` (``unrouted`` when no route took it), and the request after each arming
        # of ``time_next`` (about fifty a second) is timed: ``observe((route, seconds))``, see ``timed``.
        self.observe: Callable[[Any], None] | None = None
        self.time_next = False
        self.unrouted = 0

    # -- the tables ------------------------------------------------------------------------------------------

    def add(self, record: RouteRecord, scaffolds: tuple[Any, ...]) -> Route:
        """Make ``record`` routable. Raises ``RouteConflict`` for a method already taken on an equal pattern."""
        route = Route(record, scaffolds)
        if record.websocket:
            self._insert(self.ws_router, route, ("WEBSOCKET",))
            self.websocket_routes.append(route)
            return route
        self._insert(self.router, route, record.methods)
        self.routes.append(route)
        if record.is_static:
            targets = self.exact.setdefault(record.pattern, {})
            for method in record.methods:
                targets[method] = route
            head = target_for(targets, "HEAD")
            if head is not None:
                targets["HEAD"] = head
        return route

    def _insert(self, router: Any, route: Route, methods: tuple[str, ...]) -> None:
        try:
            router.add(route.record.pattern, methods, route)
        except _native.UnsupportedConvertor:
            # A user-registered convertor: only the Python router can run it, for this app.
            self._use_python_router()
            self._insert(self.ws_router if route.record.websocket else self.router, route, methods)
        except _native.ROUTE_CONFLICTS as exc:
            raise RouteConflict(f"{exc}; registering {route.record.name!r}") from None

    def _use_python_router(self) -> None:
        self.app.logger.info("a route uses a custom convertor: %s uses the Python router", self.app.name)
        self.native = False
        self.router, _ = _native.new_router(False)
        self.ws_router, _ = _native.new_router(False)
        for route in self.routes:
            self.router.add(route.record.pattern, route.record.methods, route)
        for route in self.websocket_routes:
            self.ws_router.add(route.record.pattern, ("WEBSOCKET",), route)

    def changed(self) -> None:
        """Hooks or middleware changed: compose every pipeline again on its next request."""
        for route in self.routes:
            route.reset()
        self.fallback = None

    # -- HTTP --------------------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the whole core, as adapters see it). Never raises."""
        if not self.serving:
            early = await self.admit(request)
            if early is not None:
                return early
        observe = self.observe
        if observe is not None and self.time_next:
            return await self.timed(request, observe)
        self.inflight += 1
        try:
            if self.mounts:
                sub = self.mounted_app(request)
                if sub is not None:
                    return await sub.handle(request)
            method = request.method
            exact = self.exact.get(request.path)
            route = exact.get(method) if exact is not None else None
            if route is None:
                path = request.path
                # Only origin-form is routed (RFC 9112 §3.2): servers pass "*", "*.evil.example/x" or "" on, and
                # the routers would read the first character as "/" (docs/hardening.md row 30).
                status, route, params = self.router.match(method, path) if path[:1] == "/" else _NOT_ORIGIN_FORM
                if status != FOUND:
                    request._miss = (status, route, params)  # type: ignore[attr-defined]
                    route = None
            else:
                params = None
            if route is None:
                if observe is not None:
                    self.unrouted += 1
                response = await (self.fallback or self._build_fallback())(request)
            else:
                request._route = route
                request._params = params
                if observe is not None:
                    route.hits += 1
                direct = route.direct
                if direct is None:
                    response = await (route.pipeline or route.build(self.handle_exception))(request)
                else:
                    # Nothing around the handler: this is _pipeline.invoke inlined (a coroutine frame fewer per
                    # request). Routes with casts or a body model never get here (Route.build).
                    try:
                        if route.takes_body and method in BODY_METHODS:
                            request.refuse_oversized_body()
                        rv = await (direct(request, **params) if params else direct(request))
                    except Exception as exc:
                        rv = await self.handle_exception(request, exc)
                    if type(rv) is dict:
                        return json_response(rv)  # always a 200 with a body (the finally clause still runs)
                    response = rv if isinstance(rv, Response) else to_response(rv)
            status = response.status
            if status != 200 and status in BODILESS_STATUSES:
                return without_body(response)  # RFC 9110 §15.3.5, §15.4.5: decided here, once, for every adapter
            if response.kind is FILE and not response.prepared:  # type: ignore[attr-defined]
                response = prepare_file(response, method, request.header)  # type: ignore[arg-type]
        except Exception as exc:
            response = await self.handle_exception(request, exc)
        finally:
            self.inflight -= 1
            if request._form is not None:
                await request.close()  # uploaded files: finish pending saves, drop temporary files
            if self.drained is not None and not self.inflight:
                self.drained.set()
        return response

    async def timed(self, request: Request, observe: Callable[[Any], None]) -> Response:
        """Serve one request and give Mission Control its duration, ``observe((route, seconds))``: the one request
        after each arming of ``time_next`` goes this way, so the others pay no clock read."""
        self.time_next = False
        started = perf_counter()
        response = await self.handle(request)
        observe((request._route, perf_counter() - started))
        return response

    async def admit(self, request: Request) -> Response | None:
        """Before serving: start the app (no lifespan from the server) or refuse with 503 while stopping."""
        if self.stopped:
            return render_http_exception(ServiceUnavailable(), _accept(request))
        try:
            await self.app.startup()
        except Exception as exc:
            self.app.logger.exception("startup failed")
            return await self.handle_exception(request, exc)
        return None

    def mounted_app(self, request: Request) -> Any:
        """The mounted app serving this path (earlier mounts first), with the request rebased onto it."""
        path = request.path
        for prefix, sub in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                request.path = path[len(prefix) :] or "/"
                request.root_path += prefix
                request.app = sub
                request.settings = sub.settings.http
                return sub
        return None

    def _build_fallback(self) -> Endpoint:
        # 404/405/400/308 and automatic OPTIONS go through app middleware, so CORS preflight works everywhere.
        endpoint: Endpoint = self._fallback_endpoint
        for entry in reversed(sorted(self.app.middleware, key=lambda e: (-e.priority, e.order))):
            endpoint = wrap_middleware(entry.middleware, endpoint)
        self.fallback = endpoint
        return endpoint

    async def _fallback_endpoint(self, request: Request) -> Response:
        status, found, params = request._miss  # type: ignore[attr-defined]
        try:
            if status == METHOD_NOT_ALLOWED:
                allowed = allowed_methods(found)
                if request.method == "OPTIONS":
                    response = Response(b"", status=200, headers={"Allow": ", ".join(sorted(allowed))})
                    del response.headers["content-type"]
                    return response
                raise MethodNotAllowed(allowed)
            if status == BAD_PARAM:
                if request.path == "*" and request.method == "OPTIONS":
                    response = Response(b"", status=200)  # the server as a whole, no resource (RFC 9110 §9.3.7)
                    del response.headers["content-type"]
                    return response
                raise BadRequest(params)
            moved = self._slash_redirect(request)
            if moved is not None:
                return moved
            raise NotFound()
        except Exception as exc:
            return await self.handle_exception(request, exc)

    def _slash_redirect(self, request: Request) -> Response | None:
        policy, path = self.app.slash_policy, request.path
        if policy == "add_slash" and not path.endswith("/"):
            alternative = path + "/"
        elif policy == "remove_slash" and path.endswith("/") and path.strip("/"):
            alternative = path.rstrip("/")
        else:
            return None
        if self.router.match(request.method, alternative)[0] == NOT_FOUND:
            return None
        # Never "//host" or "/\\host": browsers read those as another site (Django CVE-2018-14574).
        location = "/" + (request.root_path + alternative).lstrip("/\\")
        qs = request.query_string
        return redirect(quote(location, safe=_URL_SAFE) + ("?" + qs if qs else ""), status=308)

    # -- errors ------------------------------------------------------------------------------------------------

    def _find_error_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        handlers = self.app.error_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException):
            handler = handlers.get(exc.status_code)
            if handler is not None:
                return handler
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
        if not isinstance(exc, HTTPException):
            return handlers.get(500)
        return None

    async def handle_exception(self, request: Request, exc: Exception) -> Response:
        """The response for an exception: a registered error handler's, else the default rendering. Never raises."""
        handler = self._find_error_handler(exc)
        if handler is not None:
            try:
                rv = await call_hook(handler, request, exc)
                if rv is not None:
                    return to_response(rv)
            except Exception:
                self.app.logger.exception("error handler %r failed", handler)
                return _plain_500()
        try:
            if isinstance(exc, HTTPException):
                return render_http_exception(exc, _accept(request))
            self.app.logger.error(
                "unhandled exception in %s %s",
                request.method,
                request.path,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
            if self.app.debug:  # Error Prism (gobstopper.debug); production answers leak nothing
                from ..debug import debug_response

                return debug_response(request, exc)
            return render_http_exception(HTTPException(500, "The server had an internal error."), _accept(request))
        except Exception:
            self.app.logger.exception("rendering an error failed")
            return _plain_500()

    # -- WebSockets ----------------------------------------------------------------------------------------------

    async def handle_websocket(self, request: Request, channel: WebSocketChannel) -> None:
        """Serve one WebSocket connection: admission, mounts, routing and the Origin check here, then the
        connection itself (``gobstopper.websocket._run``). Never raises.

        A handshake that is not accepted is always refused with an explicit HTTP status (404 unknown path, 400
        bad parameter, 403 not accepted or Origin refused, 503 while stopping, 500 handler error): Granian ends a
        worker when an RSGI websocket ends before ``accept()`` without one (``docs/rsgi-notes.md``).
        """
        target = self
        try:
            while True:
                if not target.serving:
                    early = await target.admit(request)
                    if early is not None:
                        await channel.reject(early.status)
                        return
                sub = target.mounted_app(request) if target.mounts else None
                if sub is None:
                    break
                target = sub._dispatcher
            path = request.path
            found, route, params = target.ws_router.match("WEBSOCKET", path) if path[:1] == "/" else _NOT_ORIGIN_FORM
            if found != FOUND:
                await channel.reject(400 if found == BAD_PARAM else 404)
                return
            request._route = route
            request._params = params
            settings = target.app.settings.websocket
            status = origin_status(request, settings)
            if status:
                await channel.reject(status)
                return
        except Exception as exc:  # pragma: no cover - admission and routing do not raise; keep the worker alive
            self.app.logger.error("WebSocket dispatch failed", exc_info=(type(exc), exc, exc.__traceback__))
            await channel.reject(500)
            return
        await run_websocket(route.handler, request, channel, params, settings, target.websockets, target.app.logger)

    async def close_websockets(self, code: int, reason: str) -> None:
        """Close every open WebSocket (at shutdown, so clients reconnect elsewhere instead of hanging)."""
        open_sockets = [ws for ws in list(self.websockets) if ws.accepted and not ws.closed]
        if open_sockets:
            await asyncio.gather(*(ws.close(code, reason) for ws in open_sockets), return_exceptions=True)


def _accept(request: Request) -> str | None:
    # The error being rendered may be about the headers themselves (431): then answer in the default format.
    try:
        return request.header("accept")
    except HTTPException:
        return None


def _plain_500() -> Response:
    return Response(b"Internal Server Error", status=500, content_type="text/plain; charset=utf-8")


__all__ = ["NOT_ACCEPTED", "Dispatcher"]
