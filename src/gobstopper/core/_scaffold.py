"""The registration API shared by the application and blueprints: routes, hooks and middleware."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..templates._app_api import TemplatesScaffoldAPI

F = TypeVar("F", bound=Callable[..., Any])

#: Registration order across every app and blueprint, so equal priorities keep the order they were added in.
_registration_counter = itertools.count()

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


class MiddlewareEntry:
    """A middleware with its priority and registration order."""

    __slots__ = ("middleware", "order", "priority")

    def __init__(self, middleware: Callable[..., Any], priority: int) -> None:
        self.middleware = middleware
        self.priority = priority
        self.order = next(_registration_counter)

    @property
    def name(self) -> str:
        mw = self.middleware
        return getattr(mw, "__name__", None) or type(mw).__name__


def normalize_methods(methods: Iterable[str] | None) -> tuple[str, ...]:
    """Upper-case, de-duplicated methods (``GET`` by default)."""
    if methods is None:
        return ("GET",)
    if isinstance(methods, str):
        methods = [methods]
    result: list[str] = []
    for method in methods:
        method = method.upper()
        if not method.isalpha():
            raise ValueError(f"invalid HTTP method {method!r}")
        if method not in result:
            result.append(method)
    if not result:
        raise ValueError("a route needs at least one method")
    return tuple(result)


class Scaffold(TemplatesScaffoldAPI, ABC):
    """Decorators to register routes, hooks and middleware; subclasses decide what registering means."""

    def __init__(self) -> None:
        self.before_request_funcs: list[Callable[..., Any]] = []
        self.after_request_funcs: list[Callable[..., Any]] = []
        self.middleware: list[MiddlewareEntry] = []

    # What registering means is the subclass's: the app registers at once, a blueprint records for later.
    @abstractmethod
    def _add_route(
        self,
        path: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str | None,
        options: dict[str, Any],
    ) -> Any: ...

    @abstractmethod
    def _add_websocket(self, path: str, handler: Callable[..., Any], name: str | None) -> Any: ...

    @abstractmethod
    def _changed(self) -> None:
        """Hooks or middleware changed: cached request pipelines must be rebuilt."""

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        name: str | None = None,
        *,
        max_body_bytes: int | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function for ``path`` and ``methods`` (``["GET"]`` by default).

        Args:
            path: a pattern such as ``/users/<int:user_id>``; convertors ``str`` (default), ``int``, ``float``,
                ``uuid``, ``path``, ``date``.
            methods: HTTP methods. ``HEAD`` is served by ``GET`` routes and ``OPTIONS`` is answered for every
                path unless registered.
            name: the name for ``url_for`` (the function's name by default).
            max_body_bytes: the request body limit for this route (``None`` inherits the app's).

        Example:
            >>> @app.route("/api/data", methods=["GET", "POST"])
            ... async def data(request):
            ...     return {"method": request.method}
        """
        normalized = normalize_methods(methods)

        def decorator(func: F) -> F:
            self._add_route(path, normalized, func, name, {"max_body_bytes": max_body_bytes})
            return func

        return decorator

    def get(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a ``GET`` route (also serves ``HEAD``)."""
        return self.route(path, ["GET"], name, **options)

    def post(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a ``POST`` route."""
        return self.route(path, ["POST"], name, **options)

    def put(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a ``PUT`` route."""
        return self.route(path, ["PUT"], name, **options)

    def delete(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a ``DELETE`` route."""
        return self.route(path, ["DELETE"], name, **options)

    def patch(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register a ``PATCH`` route."""
        return self.route(path, ["PATCH"], name, **options)

    def options(self, path: str, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Register an ``OPTIONS`` route (replaces the automatic answer for that path)."""
        return self.route(path, ["OPTIONS"], name, **options)

    def websocket(self, path: str, name: str | None = None) -> Callable[[F], F]:
        """Register a WebSocket handler ``handler(websocket, **path_params)`` for ``path``."""

        def decorator(func: F) -> F:
            self._add_websocket(path, func, name)
            return func

        return decorator

    def before_request(self, func: F) -> F:
        """Run ``func(request)`` before each handler here; a non-``None`` return short-circuits the request."""
        self.before_request_funcs.append(func)
        self._changed()
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(request, response)`` after each handler here; a non-``None`` return replaces the response."""
        self.after_request_funcs.append(func)
        self._changed()
        return func

    def add_middleware(self, middleware: Any, priority: int = 0, **options: Any) -> None:
        """Wrap request handling in ``middleware(request, call_next)`` (sync or async).

        A class is instantiated with ``options`` (``add_middleware(SecurityMiddleware, session_storage=s)``).
        Higher ``priority`` runs first (outermost); equal priorities run in registration order. App middleware
        wraps blueprint middleware, which wraps the handler.
        """
        if isinstance(middleware, type):
            middleware = middleware(**options)
        elif options:
            raise TypeError("options are for a middleware class; pass a configured instance as is")
        if not callable(middleware):
            raise TypeError(f"middleware must be callable(request, call_next), not {middleware!r}")
        self.middleware.append(MiddlewareEntry(middleware, priority))
        self._changed()
