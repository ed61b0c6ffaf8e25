"""The application: a registry of routes, hooks, middleware, error handlers, mounts, extensions and settings, plus
its lifecycle. Dispatch (``core/_dispatch.py``) reads the registry; nothing here speaks a server protocol."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from .._native.pattern import build_path
from ..cache._app_api import CacheAppAPI
from ..http._streaming import end_streams
from ..http.request import Request
from ..http.response import Response
from ..settings import HTTPSettings, Settings, check
from ..tasks._app_api import TasksAppAPI
from ..templates._app_api import TemplatesAppAPI
from ..websocket._settings import WebSocketSettings
from ..websocket.manager import WebSocketManager
from ._dispatch import Dispatcher
from ._entry import ServerEntry
from ._pipeline import call_hook
from ._scaffold import Scaffold
from .blueprint import Blueprint
from .extension import check_extension
from .routes import RouteRecord, build_record, clean_prefix, join_path

SLASH_POLICIES = ("strict", "add_slash", "remove_slash")
#: The close code and reason open WebSockets get at shutdown (RFC 6455 §7.4.1: going away).
_GOING_AWAY = (1001, "server shutting down")


class _HTTPSettingView:
    """``app.<name>``: a documented attribute that reads and writes ``app.settings.http.<name>`` (checked)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__doc__ = f"``app.settings.http.{name}`` (see :class:`~gobstopper.settings.HTTPSettings`)."

    def __get__(self, app: Any, owner: Any = None) -> Any:
        if app is None:
            return self
        return getattr(app.settings.http, self.name)

    def __set__(self, app: Any, value: Any) -> None:
        settings: HTTPSettings = app.settings.http
        setattr(settings, self.name, check(self.name, value))


class Gobstopper(ServerEntry, TemplatesAppAPI, TasksAppAPI, CacheAppAPI, Scaffold):
    """A Gobstopper application: at once an RSGI app (Granian) and an ASGI app (uvicorn, tests).

    Args:
        name: the application's name (usually ``__name__``); also the logger's name.
        debug: show tracebacks in 500 answers.
        slash_policy: ``"strict"`` (default: ``/a`` and ``/a/`` are different routes), ``"add_slash"`` or
            ``"remove_slash"`` (308 redirect to the other form when only it exists).
        static_folder: a folder of static files served under ``static_url_path`` by a route named ``"static"``
            (Flask's ``url_for("static", filename="app.css")``); relative to the app's module. None: no route.
        static_url_path: where the static folder is served (``/static``).
        **settings: settings by keyword (``max_body_bytes=...``, ``trusted_proxies=[...]``; the list is
            :data:`gobstopper.settings.KEYWORDS`); they win over ``GOBSTOPPER_*`` environment variables.

    Attributes:
        settings: the app's :class:`~gobstopper.settings.Settings` (``http``, ``websocket``, ``lifecycle``).
        config: the user's own configuration dict (as in Flask); its WebSocket keys are read at startup.
        trusted_proxies, trusted_hosts, max_body_bytes, max_json_bytes, max_json_depth, max_query_params,
            max_cookies, max_headers, max_header_bytes, body_timeout: views on ``settings.http``.
        route_table: every route, as read-only :class:`~gobstopper.core.routes.RouteRecord` objects.
        error_handlers: status codes and exception classes mapped to handlers.
        extensions: the registered extensions by name (see :meth:`register_extension`).
        rust_router_available: whether the Rust router serves this app.

    Example:
        >>> app = Gobstopper(__name__)
        >>> @app.get("/users/<int:user_id>")
        ... async def get_user(request, user_id):
        ...     return {"user_id": user_id}
    """

    handle: Callable[[Request], Awaitable[Response]]
    handle_websocket: Callable[..., Awaitable[None]]

    def __init__(
        self,
        name: str = __name__,
        debug: bool = False,
        slash_policy: str | None = "strict",
        *,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str = "/static",
        **settings: Any,
    ) -> None:
        super().__init__()
        self.name = name
        self.debug = debug
        self.slash_policy = slash_policy or "strict"
        self.logger = logging.getLogger(name)
        self.config: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        # Keywords, then the environment, then defaults: read once, here; never per request.
        self.settings = Settings.build(settings)
        self.error_handlers: dict[int | type[BaseException], Callable[..., Any]] = {}
        self.blueprints: dict[str, Blueprint] = {}
        self._records: list[RouteRecord] = []
        self._names: dict[str, RouteRecord] = {}
        self._mounts: list[tuple[str, Gobstopper]] = []
        self._startup_handlers: list[Callable[..., Any]] = []
        self._shutdown_handlers: list[Callable[..., Any]] = []
        self._startup_done = 0
        self._startup_lock: asyncio.Lock | None = None
        self._adapters: dict[str, Any] = {}
        self._websocket_manager: WebSocketManager | None = None
        self._dispatcher = Dispatcher(self)
        # Adapters call these on every request: bound methods of the dispatcher, no frame in between.
        self.handle = self._dispatcher.handle
        self.handle_websocket = self._dispatcher.handle_websocket
        if static_folder is not None:
            self._add_static_folder(os.fspath(static_folder), static_url_path, self.name, ())

    def __repr__(self) -> str:
        return f"<Gobstopper {self.name!r}>"

    max_body_bytes = _HTTPSettingView("max_body_bytes")
    max_json_bytes = _HTTPSettingView("max_json_bytes")
    max_json_depth = _HTTPSettingView("max_json_depth")
    max_query_params = _HTTPSettingView("max_query_params")
    max_cookies = _HTTPSettingView("max_cookies")
    max_headers = _HTTPSettingView("max_headers")
    max_header_bytes = _HTTPSettingView("max_header_bytes")
    trusted_proxies = _HTTPSettingView("trusted_proxies")
    trusted_hosts = _HTTPSettingView("trusted_hosts")
    body_timeout = _HTTPSettingView("body_timeout")

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
    def rust_router_available(self) -> bool:
        """Whether the Rust router serves this app (False without ``gobstopper_rs`` or with a custom convertor)."""
        return self._dispatcher.native

    # -- the route table -------------------------------------------------------------------------------------

    @property
    def route_table(self) -> tuple[RouteRecord, ...]:
        """Every route (HTTP and WebSocket) in registration order, as read-only records."""
        return tuple(self._records)

    @property
    def routes(self) -> list[RouteRecord]:
        """The HTTP routes of :attr:`route_table`."""
        return [r for r in self._records if not r.websocket]

    @property
    def websocket_routes(self) -> list[RouteRecord]:
        """The WebSocket routes of :attr:`route_table`."""
        return [r for r in self._records if r.websocket]

    @property
    def mounts(self) -> tuple[tuple[str, Gobstopper], ...]:
        """The mounted apps, ``(prefix, app)`` in the order they are tried (see :meth:`mount`)."""
        return tuple(self._mounts)

    # -- registration ----------------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._dispatcher.changed()

    def _add_route(
        self,
        path: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str | None,
        options: dict[str, Any],
        blueprints: tuple[Blueprint, ...] = (),
    ) -> RouteRecord:
        own_limit = options.get("max_body_bytes")
        limits = [own_limit, *(bp.max_body_bytes for bp in reversed(blueprints))]
        record = build_record(
            join_path(path),
            methods,
            handler,
            self._route_name(handler, name, blueprints),
            blueprints=self._qualified_names(blueprints),
            max_body_bytes=next((limit for limit in limits if limit is not None), None),
        )
        return self._register(record, blueprints)

    def _add_websocket(
        self, path: str, handler: Callable[..., Any], name: str | None, blueprints: tuple[Blueprint, ...] = ()
    ) -> RouteRecord:
        record = build_record(
            join_path(path),
            (),
            handler,
            self._route_name(handler, name, blueprints),
            websocket=True,
            blueprints=self._qualified_names(blueprints),
        )
        return self._register(record, blueprints)

    def _register(self, record: RouteRecord, blueprints: tuple[Blueprint, ...]) -> RouteRecord:
        existing = self._names.get(record.name)
        if existing is not None and existing.handler is not record.handler:
            raise ValueError(
                f"route name {record.name!r} is already used by {existing.pattern!r} with another handler;"
                " pass name=... to tell them apart"
            )
        self._dispatcher.add(record, (self, *blueprints))
        self._names.setdefault(record.name, record)
        self._records.append(record)
        return record

    @staticmethod
    def _route_name(handler: Callable[..., Any], name: str | None, blueprints: tuple[Blueprint, ...]) -> str:
        base = name or getattr(handler, "__name__", None) or type(handler).__name__
        return ".".join([bp.name for bp in blueprints] + [base])

    @staticmethod
    def _qualified_names(blueprints: tuple[Blueprint, ...]) -> tuple[str, ...]:
        return tuple(".".join(bp.name for bp in blueprints[: i + 1]) for i in range(len(blueprints)))

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None) -> None:
        """Add a blueprint's routes (and its nested blueprints') under ``url_prefix`` or its own prefix.

        Its hooks and middleware apply to its routes only, inside the app's. Prefixes and rules are joined with
        exactly one ``/`` (``Blueprint("bp", url_prefix="/a/")`` with ``@bp.get("c/")`` serves ``/a/c/``).
        """
        prefix = clean_prefix(url_prefix) if url_prefix is not None else blueprint.url_prefix
        self._register_blueprint(blueprint, prefix, ())

    def _register_blueprint(self, blueprint: Blueprint, prefix: str, parents: tuple[Blueprint, ...]) -> None:
        chain = (*parents, blueprint)
        qualified = ".".join(bp.name for bp in chain)
        if qualified in self.blueprints and self.blueprints[qualified] is not blueprint:
            raise ValueError(f"another blueprint is already registered as {qualified!r}")
        self.blueprints[qualified] = blueprint
        for kind, path, methods, handler, name, options in blueprint.deferred:
            full = join_path(prefix, path)
            if kind == "http":
                self._add_route(full, methods, handler, name, options, chain)
            else:
                self._add_websocket(full, handler, name, chain)
        if blueprint.static_folder:
            self._add_static_folder(blueprint.static_folder, join_path(prefix, "static"), blueprint.import_name, chain)
        for child, child_prefix in blueprint.children:
            child_prefix = child_prefix if child_prefix is not None else child.url_prefix
            self._register_blueprint(child, clean_prefix(join_path(prefix, child_prefix)) if child_prefix else prefix,
                                     chain)  # fmt: skip
        blueprint._registered_on(self)
        self._changed()

    def _add_static_folder(
        self, folder: str, url_path: str, import_name: str | None, blueprints: tuple[Blueprint, ...]
    ) -> None:
        # Flask's static route: GET <url_path>/<path:filename>, named "static" ("bp.static" in a blueprint),
        # answered by the native resolver like StaticFileMiddleware, but only for its own paths.
        from ..middleware.static import StaticFolder

        module_file = getattr(sys.modules.get(import_name or ""), "__file__", None)
        if not os.path.isabs(folder) and module_file:
            folder = os.path.join(os.path.dirname(module_file), folder)
        static = StaticFolder(folder)

        async def static_file(request: Request, filename: str) -> Response:
            return static.respond(request, filename)

        static_file.__name__ = "static"
        self._add_route(join_path(url_path, "<path:filename>"), ("GET",), static_file, "static", {}, blueprints)

    def mount(self, path: str, app: Gobstopper) -> Gobstopper:
        """Serve another Gobstopper app under ``path``; it sees paths relative to it and keeps its own
        middleware, hooks and error handlers. Earlier mounts are tried first. Returns ``app``."""
        prefix = clean_prefix(join_path(path))
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
        ``on_shutdown`` handlers (``docs/extensions.md``).

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
        record = self._names.get(name)
        if record is None:
            raise ValueError(f"no route named {name!r}")
        path = build_path(record.segments, params, name)  # takes the pattern's parameters out of params
        query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        return path + ("?" + query if query else "")

    # -- errors ------------------------------------------------------------------------------------------------

    async def handle_exception(self, request: Request, exc: Exception) -> Response:
        """The response for an exception: a registered error handler's, else the default rendering.

        Middleware may call it to answer with the app's error pages (``HTTPException`` included). Never raises.
        """
        return await self._dispatcher.handle_exception(request, exc)

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Check the hooks, start the extensions, run the startup handlers (once; a failed one is retried from
        where it failed), then serve.

        Raises:
            TypeError: a hook, error handler or middleware cannot be called the way the framework calls it.
        """
        if self._dispatcher.serving:
            return
        if self._startup_lock is None:
            self._startup_lock = asyncio.Lock()
        async with self._startup_lock:
            if self._dispatcher.serving:
                return
            check_callables(self)
            # The WebSocket keys of app.config are read once, here (docs/websockets.md).
            self.settings.websocket = WebSocketSettings.from_config(self.config)
            # Extensions first (the app's handlers may use them), then the app's own handlers.
            steps = [*self._extension_hooks("startup"), *self._startup_handlers]
            while self._startup_done < len(steps):
                await call_hook(steps[self._startup_done])
                self._startup_done += 1
            for _, sub in self._mounts:
                await sub.startup()
            from ..deploy import is_production, warn_open_settings

            if is_production():  # name what the deployment leaves open, once (docs/deployment.md)
                warn_open_settings(self)
            self.logger.debug("%s started (%s router)", self.name, "Rust" if self.rust_router_available else "Python")
            self._dispatcher.stopped = False
            self._dispatcher.serving = True

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop serving (new requests get 503), close open WebSockets (1001), wait up to ``timeout`` seconds for
        in-flight requests (``settings.lifecycle.shutdown_timeout``, 10 s by default), then run the shutdown
        handlers and stop the extensions.

        Handler errors are logged and do not stop the others. A later :meth:`startup` serves again.
        """
        if timeout is None:
            timeout = self.settings.lifecycle.shutdown_timeout
        dispatcher = self._dispatcher
        await self.begin_shutdown()
        if dispatcher.inflight:
            dispatcher.drained = asyncio.Event()
            try:
                await asyncio.wait_for(dispatcher.drained.wait(), timeout)
            except asyncio.TimeoutError:
                self.logger.warning("shutdown: %d request(s) still running after %ss", dispatcher.inflight, timeout)
            finally:
                dispatcher.drained = None
        for func in [*self._shutdown_handlers, *reversed(self._extension_hooks("shutdown"))]:
            try:
                await call_hook(func)
            except Exception:
                self.logger.exception("shutdown handler %r failed", func)
        for _, sub in self._mounts:
            await sub.shutdown(timeout)
        self._startup_done = 0

    async def begin_shutdown(self, wait: float = 0.0) -> None:
        """The first step of :meth:`shutdown`: new requests get 503, open WebSockets are closed (1001) and open event
        streams end (their generators' ``finally`` run), here and in mounted apps; then up to ``wait`` seconds for
        the WebSocket handlers to return. Adapters call it on its own as soon as the server is told to stop, before
        the server tears connections down (``docs/deployment.md``, "Shutdown")."""
        dispatcher = self._dispatcher
        dispatcher.serving = False
        dispatcher.stopped = True
        await dispatcher.close_websockets(*_GOING_AWAY)
        end_streams(self)  # now, not at the drain timeout
        for _, sub in self._mounts:
            await sub.begin_shutdown(wait)
        deadline = asyncio.get_running_loop().time() + wait
        while dispatcher.websockets and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    def _extension_hooks(self, name: str) -> list[Callable[..., Any]]:
        hooks = (getattr(extension, name, None) for extension in self.extensions.values())
        return [hook for hook in hooks if callable(hook)]

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
        for route in self._dispatcher.routes:
            order = [entry.name for entry in route.middleware_entries()]
            lines.append(f"Route {list(route.record.methods)} {route.pattern} -> {route.name} MW order: {order}")
        for route in self._dispatcher.websocket_routes:
            lines.append(f"WebSocket {route.pattern} -> {route.name}")
        lines.append("=== End Visualization ===")
        text = "\n".join(lines)
        self.logger.info("%s", text)
        return text


#: How the framework calls each kind of registered callable (what ``check_callables`` verifies).
_CALLS = {
    "before_request hook": "(request)",
    "after_request hook": "(request, response)",
    "error handler": "(request, error)",
    "middleware": "(request, call_next)",
}


def check_callables(app: Gobstopper) -> None:
    """Fail startup, naming the culprit, when a hook, error handler or middleware cannot take the arguments the
    framework passes it (instead of a 500 on the first request that reaches it).

    Raises:
        TypeError: naming the callable, where it is registered and the call it must accept.
    """
    scaffolds: list[tuple[str, Any]] = [("the app", app)]
    scaffolds += [(f"blueprint {name!r}", bp) for name, bp in app.blueprints.items()]
    for where, scaffold in scaffolds:
        for func in scaffold.before_request_funcs:
            _check_call(func, "before_request hook", where)
        for func in scaffold.after_request_funcs:
            _check_call(func, "after_request hook", where)
        for entry in scaffold.middleware:
            _check_call(entry.middleware, "middleware", where)
    for func in app.error_handlers.values():
        _check_call(func, "error handler", "the app")


def _check_call(func: Callable[..., Any], kind: str, where: str) -> None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check
    call = _CALLS[kind]
    try:
        signature.bind(*range(call.count(",") + 1))
    except TypeError:
        label = getattr(func, "__qualname__", None) or repr(func)
        raise TypeError(f"{kind} {label} on {where} must accept {call}; its signature is {signature}") from None
