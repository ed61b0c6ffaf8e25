"""The application: registration, dispatch, error handling and lifecycle. It never speaks a server protocol."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlencode

from .. import _native
from ..cache._app_api import CacheAppAPI
from ..http._files import prepare_file
from ..http.errors import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from ..http.problem import render_http_exception
from ..http.request import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_COOKIES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_QUERY_PARAMS,
    Request,
)
from ..http.response import FILE, Response, json_response, redirect
from ..tasks._app_api import TasksAppAPI
from ..templates._app_api import TemplatesAppAPI
from ..websocket._channel import GOING_AWAY, WebSocketChannel
from ..websocket._serve import serve as _serve_websocket
from ..websocket.connection import OPEN as WS_OPEN
from ..websocket.manager import WebSocketManager
from ._entry import ServerEntry
from ._pipeline import BODY_METHODS, Endpoint, Route, call_hook, wrap_middleware
from ._returns import to_response
from ._router import (
    BAD_PARAM,
    FOUND,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    RouteConflict,
    build_path,
    parse_pattern,
)
from ._scaffold import Scaffold
from .blueprint import Blueprint, _clean_prefix
from .extension import check_extension

SLASH_POLICIES = ("strict", "add_slash", "remove_slash")
_URL_SAFE = "/:@!$&'()*+,;=-._~"


class Gobstopper(ServerEntry, TemplatesAppAPI, TasksAppAPI, CacheAppAPI, Scaffold):
    """A Gobstopper application: at once an RSGI app (Granian) and an ASGI app (uvicorn, tests).

    Args:
        name: the application's name (usually ``__name__``); also the logger's name.
        debug: show tracebacks in 500 answers.
        slash_policy: ``"strict"`` (default: ``/a`` and ``/a/`` are different routes), ``"add_slash"`` or
            ``"remove_slash"`` (308 redirect to the other form when only it exists).

    Attributes:
        trusted_proxies: addresses/networks whose ``X-Forwarded-For``/``-Proto`` are believed (none by default).
        trusted_hosts: when set, only these host names are accepted (others are a 400).
        max_body_bytes: request body limit (10 MiB by default; ``None`` for no limit); blueprints, routes and
            requests can set their own.
        max_json_bytes: a lower limit for JSON bodies (``GOBSTOPPER_JSON_MAX_BYTES``, read at creation).
        max_json_depth: nesting limit for JSON bodies (``GOBSTOPPER_JSON_MAX_DEPTH``, read at creation).
        max_query_params: query parameters allowed per request (1000; more is a 400).
        max_cookies: cookies allowed per request (300; more is a 431).
        max_headers, max_header_bytes: header count (100) and size of one header (16 KiB) before a 431,
            checked when headers are first read (64 KiB in all).
        error_handlers: status codes and exception classes mapped to handlers.
        extensions: the registered extensions by name (see :meth:`register_extension`).
        rust_router_available: whether the Rust router serves this app.

    Example:
        >>> app = Gobstopper(__name__)
        >>> @app.get("/users/<int:user_id>")
        ... async def get_user(request, user_id):
        ...     return {"user_id": user_id}
    """

    def __init__(self, name: str = __name__, debug: bool = False, slash_policy: str | None = "strict") -> None:
        super().__init__()
        self.name = name
        self.debug = debug
        self.slash_policy = slash_policy or "strict"
        self.logger = logging.getLogger(name)
        self.config: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        self.max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES
        self.max_query_params = DEFAULT_MAX_QUERY_PARAMS
        self.max_cookies = DEFAULT_MAX_COOKIES
        self.max_headers = DEFAULT_MAX_HEADERS
        self.max_header_bytes = DEFAULT_MAX_HEADER_BYTES
        # Configuration from the environment is read once, here; never per request.
        self.max_json_bytes: int | None = _env_int("GOBSTOPPER_JSON_MAX_BYTES")
        self.max_json_depth: int | None = _env_int("GOBSTOPPER_JSON_MAX_DEPTH")
        self._trusted_proxies: tuple[Any, ...] = ()
        self.trusted_hosts: frozenset[str] | None = None
        self.error_handlers: dict[int | type[BaseException], Callable[..., Any]] = {}
        self.routes: list[Route] = []
        self.websocket_routes: list[Route] = []
        self.blueprints: dict[str, Blueprint] = {}
        self._names: dict[str, Route] = {}
        self._mounts: list[tuple[str, Gobstopper]] = []
        self._router, self.rust_router_available = _native.new_router()
        # Routes whose pattern has no parameter, by exact path then method: the router's own first step (static
        # beats everything), answered before crossing into the router. Same result, a call fewer per request.
        self._exact_routes: dict[str, dict[str, Route]] = {}
        self._ws_router, _ = _native.new_router(self.rust_router_available)
        self._fallback_pipeline: Endpoint | None = None
        self._startup_handlers: list[Callable[..., Any]] = []
        self._shutdown_handlers: list[Callable[..., Any]] = []
        self._startup_done = 0
        self._serving = False  # True once started and until shutdown: the per-request check is this one flag
        self._stopped = False
        self._startup_lock: asyncio.Lock | None = None
        self._inflight = 0
        self._drained: asyncio.Event | None = None
        self._adapters: dict[str, Any] = {}
        self._websockets: set[Any] = set()
        self._websocket_manager: WebSocketManager | None = None

    def __repr__(self) -> str:
        return f"<Gobstopper {self.name!r}>"

    @property
    def websocket_manager(self) -> WebSocketManager:
        """A :class:`~gobstopper.websocket.WebSocketManager` for this app (rooms and broadcast), made on first use."""
        if self._websocket_manager is None:
            self._websocket_manager = WebSocketManager()
        return self._websocket_manager

    @property
    def slash_policy(self) -> str:
        """How a path that only exists with or without a trailing slash is answered."""
        return self._slash_policy

    @slash_policy.setter
    def slash_policy(self, value: str | None) -> None:
        value = value or "strict"
        if value not in SLASH_POLICIES:
            raise ValueError(f"slash_policy must be one of {SLASH_POLICIES}, not {value!r}")
        self._slash_policy = value

    @property
    def trusted_proxies(self) -> tuple[Any, ...]:
        """Networks whose forwarding headers are believed."""
        return self._trusted_proxies

    @trusted_proxies.setter
    def trusted_proxies(self, value: Iterable[str] | None) -> None:
        self._trusted_proxies = tuple(ipaddress.ip_network(v, strict=False) for v in (value or ()))

    # -- registration ----------------------------------------------------------------------------------------

    def _changed(self) -> None:
        for route in self.routes:
            route.pipeline = route.direct = None
        self._fallback_pipeline = None

    def _add_route(
        self,
        path: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str | None,
        options: dict[str, Any],
        blueprints: tuple[Blueprint, ...] = (),
    ) -> Route:
        segments = parse_pattern(path)
        route = Route(
            self,
            path,
            methods,
            handler,
            self._route_name(handler, name, blueprints),
            blueprints=blueprints,
            max_body_bytes=_first_set(
                options.get("max_body_bytes"), *(bp.max_body_bytes for bp in reversed(blueprints))
            ),
            param_names=tuple(n for s in segments for n in s.param_names),
            str_params=frozenset(n for s in segments for n, c in zip(s.param_names, s.convertor_names) if c == "str"),
        )
        self._insert(self._router, route, methods)
        if all(segment.is_static for segment in segments):
            exact = self._exact_routes.setdefault(path, {})
            for method in methods:
                exact[method.upper()] = route
            if "GET" in exact:
                exact.setdefault("HEAD", exact["GET"])  # an explicit HEAD route, registered later, replaces it
        self._remember_name(route)
        self.routes.append(route)
        return route

    def _add_websocket(
        self, path: str, handler: Callable[..., Any], name: str | None, blueprints: tuple[Blueprint, ...] = ()
    ) -> Route:
        segments = parse_pattern(path)
        route = Route(
            self,
            path,
            (),
            handler,
            self._route_name(handler, name, blueprints),
            blueprints=blueprints,
            websocket=True,
            param_names=tuple(n for s in segments for n in s.param_names),
        )
        self._insert(self._ws_router, route, ("WEBSOCKET",))
        self._remember_name(route)
        self.websocket_routes.append(route)
        return route

    def _insert(self, router: Any, route: Route, methods: tuple[str, ...]) -> None:
        try:
            router.add(route.pattern, methods, route)
        except _native.UnsupportedConvertor:
            # A user-registered convertor: only the Python router can run it, for this app.
            self._fall_back_to_python_router()
            self._insert(self._router if not route.websocket else self._ws_router, route, methods)
        except _native.ROUTE_CONFLICTS as exc:
            raise RouteConflict(f"{exc}; registering {route.name!r}") from None

    def _fall_back_to_python_router(self) -> None:
        self.logger.info("a route uses a custom convertor: %s uses the Python router", self.name)
        self.rust_router_available = False
        self._router, _ = _native.new_router(False)
        self._ws_router, _ = _native.new_router(False)
        for route in self.routes:
            self._router.add(route.pattern, route.methods, route)
        for route in self.websocket_routes:
            self._ws_router.add(route.pattern, ("WEBSOCKET",), route)

    @staticmethod
    def _route_name(handler: Callable[..., Any], name: str | None, blueprints: tuple[Blueprint, ...]) -> str:
        base = name or getattr(handler, "__name__", None) or type(handler).__name__
        return ".".join([bp.name for bp in blueprints] + [base])

    def _remember_name(self, route: Route) -> None:
        existing = self._names.get(route.name)
        if existing is None:
            self._names[route.name] = route
        elif existing.handler is not route.handler:
            raise ValueError(
                f"route name {route.name!r} is already used by {existing.pattern!r} with another handler;"
                " pass name=... to tell them apart"
            )

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None) -> None:
        """Add a blueprint's routes (and its nested blueprints') under ``url_prefix`` or its own prefix.

        Its hooks and middleware apply to its routes only, inside the app's.
        """
        prefix = _clean_prefix(url_prefix) if url_prefix is not None else blueprint.url_prefix
        self._register_blueprint(blueprint, prefix, ())

    def _register_blueprint(self, blueprint: Blueprint, prefix: str, parents: tuple[Blueprint, ...]) -> None:
        chain = (*parents, blueprint)
        qualified = ".".join(bp.name for bp in chain)
        if qualified in self.blueprints and self.blueprints[qualified] is not blueprint:
            raise ValueError(f"another blueprint is already registered as {qualified!r}")
        self.blueprints[qualified] = blueprint
        for kind, path, methods, handler, name, options in blueprint.deferred:
            full = prefix + path  # Flask's rule: "/" under "/api" is "/api/"
            if kind == "http":
                self._add_route(full, methods, handler, name, options, chain)
            else:
                self._add_websocket(full, handler, name, chain)
        if blueprint.static_folder:
            from ..middleware.static import StaticFileMiddleware

            folder = blueprint.static_folder
            module = sys.modules.get(blueprint.import_name or "")
            if not os.path.isabs(folder) and getattr(module, "__file__", None):
                folder = os.path.join(os.path.dirname(module.__file__), folder)  # type: ignore[arg-type]
            self.add_middleware(StaticFileMiddleware(folder, url_prefix=f"{prefix}/static"))
        for child, child_prefix in blueprint.children:
            child_prefix = child_prefix if child_prefix is not None else child.url_prefix
            self._register_blueprint(child, prefix + child_prefix, chain)
        if self not in blueprint._apps:
            blueprint._apps.append(self)
        self._changed()

    def mount(self, path: str, app: Gobstopper) -> Gobstopper:
        """Serve another Gobstopper app under ``path``; it sees paths relative to it and keeps its own
        middleware, hooks and error handlers. Earlier mounts are tried first. Returns ``app``."""
        prefix = _clean_prefix(path)
        if not prefix:
            raise ValueError("a mount point needs a non-empty prefix such as '/api'")
        if app is self:
            raise ValueError("an app cannot be mounted on itself")
        self._mounts.append((prefix, app))
        return app

    def error_handler(self, key: int | type[BaseException]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``handler(request, error)`` for an HTTP status or an exception class (and subclasses).

        A handler for 500 also receives unhandled exceptions. Its return value is converted like a route's.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            if not (isinstance(key, int) or (isinstance(key, type) and issubclass(key, BaseException))):
                raise TypeError("error_handler() takes a status code or an exception class")
            self.error_handlers[key] = func
            return func

        return decorator

    def errorhandler(self, key: int | type[BaseException]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Flask's spelling of :meth:`error_handler`."""
        return self.error_handler(key)

    def register_extension(self, extension: Any) -> Any:
        """Add an extension: store it as ``app.extensions[extension.name]``, call ``extension.init_app(app)`` and
        register the blueprints it contributes (``extension.blueprints``). Returns ``extension``.

        Its optional ``startup()`` / ``shutdown()`` (sync or async) run with the app's lifecycle: extensions start
        in registration order before the ``on_startup`` handlers, and stop in reverse order after the
        ``on_shutdown`` handlers (``gobstopper.core.extension`` describes the protocol).

        Raises:
            TypeError: ``extension`` has no ``name`` or no ``init_app``.
            ValueError: another extension is already registered under that name.
        """
        name = check_extension(extension)
        existing = self.extensions.get(name)
        if existing is not None:
            if existing is extension:
                return extension
            raise ValueError(f"another extension is already registered as {name!r}")
        self.extensions[name] = extension
        try:
            extension.init_app(self)
            for blueprint in getattr(extension, "blueprints", None) or ():
                self.register_blueprint(blueprint)
        except BaseException:
            del self.extensions[name]
            raise
        return extension

    def on_startup(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Run ``func()`` (sync or async) once per worker before it serves (ASGI lifespan or RSGI init)."""
        self._startup_handlers.append(func)
        return func

    def on_shutdown(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Run ``func()`` (sync or async) at shutdown, after in-flight requests finished."""
        self._shutdown_handlers.append(func)
        return func

    # -- URL building ---------------------------------------------------------------------------------------

    def url_for(self, name: str, **params: Any) -> str:
        """The path of route ``name`` with ``params`` filled in; extra params become the query string.

        Raises:
            ValueError: no route has that name, or a parameter is missing or does not fit its convertor.

        Example:
            >>> app.url_for("user_detail", id=123)
            '/users/123'
        """
        route = self._names.get(name)
        if route is None:
            raise ValueError(f"no route named {name!r}")
        path = build_path(route.pattern, params, name)  # takes the pattern's parameters out of params
        query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        return path + ("?" + query if query else "")

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Run the startup handlers (once; a failed one is retried from where it failed), then serve."""
        if self._serving:
            return
        if self._startup_lock is None:
            self._startup_lock = asyncio.Lock()
        async with self._startup_lock:
            if self._serving:
                return
            # Extensions first (the app's handlers may use them), then the app's own handlers; a failed step is
            # retried from where it failed on the next attempt.
            steps = [*self._extension_hooks("startup"), *self._startup_handlers]
            while self._startup_done < len(steps):
                await call_hook(steps[self._startup_done])
                self._startup_done += 1
            for _, sub in self._mounts:
                await sub.startup()
            self.logger.debug("%s started (%s router)", self.name, "Rust" if self.rust_router_available else "Python")
            self._stopped = False
            self._serving = True

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop serving (new requests get 503), wait up to ``timeout`` seconds for in-flight requests
        (``GOBSTOPPER_SHUTDOWN_TIMEOUT``, 10 s by default), then run the shutdown handlers.

        Handler errors are logged and do not stop the others. A later :meth:`startup` serves again.
        """
        if timeout is None:
            timeout = float(os.environ.get("GOBSTOPPER_SHUTDOWN_TIMEOUT", "10"))
        self._serving = False
        self._stopped = True
        await self._close_websockets()
        if self._inflight:
            self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), timeout)
            except asyncio.TimeoutError:
                self.logger.warning("shutdown: %d request(s) still running after %ss", self._inflight, timeout)
            finally:
                self._drained = None
        for func in [*self._shutdown_handlers, *reversed(self._extension_hooks("shutdown"))]:
            try:
                await call_hook(func)
            except Exception:
                self.logger.exception("shutdown handler %r failed", func)
        for _, sub in self._mounts:
            await sub.shutdown(timeout)
        self._startup_done = 0

    def _extension_hooks(self, name: str) -> list[Callable[..., Any]]:
        hooks = (getattr(extension, name, None) for extension in self.extensions.values())
        return [hook for hook in hooks if callable(hook)]

    async def _close_websockets(self) -> None:
        # Open WebSockets are told the server is going away (1001; RSGI cannot carry the code, see
        # docs/websockets.md) before the drain, so clients reconnect elsewhere instead of hanging.
        open_sockets = [ws for ws in list(self._websockets) if ws._state == WS_OPEN]
        if open_sockets:
            await asyncio.gather(
                *(ws.close(GOING_AWAY, "server shutting down") for ws in open_sockets), return_exceptions=True
            )

    # -- dispatch --------------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the whole core, as adapters see it). Never raises."""
        if not self._serving:
            early = await self._admit(request)
            if early is not None:
                return early
        self._inflight += 1
        try:
            if self._mounts:
                sub = self._mounted_app(request)
                if sub is not None:
                    return await sub.handle(request)
            # Routing, the pipeline and a plain handler run inline: one coroutine frame fewer per request.
            method = request.method
            exact = self._exact_routes.get(request.path)
            route = exact.get(method) if exact is not None else None
            if route is None:
                status, route, params = self._router.match(method, request.path)
                if status != FOUND:
                    request._miss = (status, route, params)  # type: ignore[attr-defined]
                    route = None
            else:
                params = None
            if route is None:
                response = await (self._fallback_pipeline or self._build_fallback())(request)
            else:
                request._route = route
                request._params = params
                direct = route.direct
                if direct is None:
                    response = await (route.pipeline or route.build())(request)
                else:  # nothing around the handler: await it right here
                    try:
                        if route.takes_body and method in BODY_METHODS:
                            request.refuse_oversized_body()
                        rv = await (direct(request, **params) if params else direct(request))
                    except Exception as exc:
                        rv = await self.handle_exception(request, exc)
                    if type(rv) is dict:
                        return json_response(rv)  # (the finally clause below still runs)
                    response = rv if isinstance(rv, Response) else to_response(rv)
            if response.kind is FILE and not response.prepared:  # type: ignore[attr-defined]
                response = prepare_file(response, method, request.header)  # type: ignore[arg-type]
        except Exception as exc:
            response = await self.handle_exception(request, exc)
        finally:
            self._inflight -= 1
            if request._form is not None:
                await request.close()  # uploaded files: finish pending saves, drop temporary files
            if self._drained is not None and not self._inflight:
                self._drained.set()
        return response

    async def handle_websocket(self, request: Request, channel: WebSocketChannel) -> None:
        """Serve one WebSocket connection (the core, as adapters see it for a handshake). Never raises.

        ``request`` describes the handshake (a ``GET``); ``channel`` is the adapter's
        :class:`~gobstopper.websocket._channel.WebSocketChannel`. Mounted apps, the WebSocket router, the
        Origin allow-list and the handler run here; a handshake that is not accepted is always refused with an
        explicit HTTP status (404 unknown path, 403 not accepted or Origin refused, 500 handler error, the
        status of an ``HTTPException`` raised before accepting).
        """
        await _serve_websocket(self, request, channel)

    async def _admit(self, request: Request) -> Response | None:
        if self._stopped:
            return render_http_exception(ServiceUnavailable(), _accept(request))
        try:
            await self.startup()  # no lifespan from the server: start on the first request
        except Exception as exc:
            self.logger.exception("startup failed")
            return await self.handle_exception(request, exc)
        return None

    def _mounted_app(self, request: Request) -> Gobstopper | None:
        """The mounted app serving this path (earlier mounts first), with the request rebased onto it."""
        path = request.path
        for prefix, sub in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                request.path = path[len(prefix) :] or "/"
                request.root_path += prefix
                request.app = sub
                return sub
        return None

    def _build_fallback(self) -> Endpoint:
        # 404/405/400/308 and automatic OPTIONS go through app middleware, so CORS preflight works everywhere.
        endpoint: Endpoint = self._fallback_endpoint
        for entry in reversed(sorted(self.middleware, key=lambda e: (-e.priority, e.order))):
            endpoint = wrap_middleware(entry.middleware, endpoint)
        self._fallback_pipeline = endpoint
        return endpoint

    async def _fallback_endpoint(self, request: Request) -> Response:
        status, found, params = request._miss  # type: ignore[attr-defined]
        try:
            if status == METHOD_NOT_ALLOWED:
                allowed = set(found) | {"OPTIONS"}
                if "GET" in allowed:
                    allowed.add("HEAD")
                if request.method == "OPTIONS":
                    response = Response(b"", status=200, headers={"Allow": ", ".join(sorted(allowed))})
                    del response.headers["content-type"]
                    return response
                raise MethodNotAllowed(allowed)
            if status == BAD_PARAM:
                raise BadRequest(params)
            response = self._slash_redirect(request)
            if response is not None:
                return response
            raise NotFound()
        except Exception as exc:
            return await self.handle_exception(request, exc)

    def _slash_redirect(self, request: Request) -> Response | None:
        policy, path = self._slash_policy, request.path
        if policy == "add_slash" and not path.endswith("/"):
            alternative = path + "/"
        elif policy == "remove_slash" and path.endswith("/") and path.strip("/"):
            alternative = path.rstrip("/")
        else:
            return None
        if self._router.match(request.method, alternative)[0] == NOT_FOUND:
            return None
        # Never "//host" or "/\\host": browsers read those as another site (Django CVE-2018-14574).
        location = "/" + (request.root_path + alternative).lstrip("/\\")
        qs = request.query_string
        return redirect(quote(location, safe=_URL_SAFE) + ("?" + qs if qs else ""), status=308)

    def _find_error_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        handlers = self.error_handlers
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
        """The response for an exception: a registered error handler's, else the default rendering.

        Middleware may call it to answer with the app's error pages (``HTTPException`` included). Never raises.
        """
        handler = self._find_error_handler(exc)
        if handler is not None:
            try:
                rv = await call_hook(handler, request, exc)
                if rv is not None:
                    return to_response(rv)
            except Exception:
                self.logger.exception("error handler %r failed", handler)
                return _plain_500()
        try:
            if isinstance(exc, HTTPException):
                return render_http_exception(exc, _accept(request))
            self.logger.error(
                "unhandled exception in %s %s",
                request.method,
                request.path,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
            detail = "".join(traceback.format_exception(exc)) if self.debug else "The server had an internal error."
            return render_http_exception(HTTPException(500, detail), _accept(request))
        except Exception:
            self.logger.exception("rendering an error failed")
            return _plain_500()

    # -- introspection ---------------------------------------------------------------------------------------

    def visualize_routing(self) -> str:
        """Log (at INFO) and return the mounts, blueprints and each route's middleware order."""
        lines = ["=== Routing Visualization ==="]
        for prefix, sub in self._mounts:
            lines.append(f"Mount: {prefix} -> {sub.name}")
        for qualified, bp in self.blueprints.items():
            depth = qualified.count(".")
            lines.append(f"{'  ' * depth}Blueprint: {qualified} prefix={bp.url_prefix or '/'}")
            for entry in bp.middleware:
                lines.append(f"{'  ' * (depth + 1)}MW(prio={entry.priority}): {entry.name}")
        for route in self.routes:
            order = [entry.name for entry in route.middleware_entries()]
            lines.append(f"Route {list(route.methods)} {route.pattern} -> {route.name} MW order: {order}")
        for route in self.websocket_routes:
            lines.append(f"WebSocket {route.pattern} -> {route.name}")
        lines.append("=== End Visualization ===")
        text = "\n".join(lines)
        self.logger.info("%s", text)
        return text


def _accept(request: Request) -> str | None:
    # The error being rendered may be about the headers themselves (431): then answer in the default format.
    try:
        return request.header("accept")
    except HTTPException:
        return None


def _first_set(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer number of bytes/levels, not {value!r}") from None


def param_is_path(pattern: str, param: str) -> bool:
    """Whether ``param`` uses the ``path`` convertor in ``pattern`` (its slashes are kept by ``url_for``)."""
    return f"<path:{param}>" in pattern


def _plain_500() -> Response:
    return Response(b"Internal Server Error", status=500, content_type="text/plain; charset=utf-8")
