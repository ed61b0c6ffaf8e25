"""Blueprints: groups of routes with their own prefix, hooks and middleware, registered on an app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._scaffold import Scaffold
from .routes import clean_prefix


class Blueprint(Scaffold):
    """A collection of routes and hooks, registered on an app (or another blueprint) with a URL prefix.

    Routes are named ``"<blueprint>.<function>"`` for ``url_for`` (``"parent.child.function"`` when nested).
    Hooks and middleware of a blueprint apply to its own routes and its children's.

    Args:
        name: the blueprint's name (a prefix for route names; no dots).
        url_prefix: the prefix of its routes, unless registration gives another. A value not starting with
            ``/`` is taken as Flask's ``import_name`` (``Blueprint("admin", __name__)``) and means no prefix.
        static_folder: a folder of static files served under the blueprint's prefix.
        template_folder: a folder of templates added to the search path.
        max_body_bytes: the request body limit for its routes (the innermost blueprint that sets one wins;
            a route's own limit wins over all).

    Example:
        >>> api = Blueprint("api", url_prefix="/api")
        >>> @api.get("/users")
        ... async def list_users(request):
        ...     return {"users": []}
        >>> app.register_blueprint(api)
    """

    def __init__(
        self,
        name: str,
        url_prefix: str | None = None,
        *,
        static_folder: str | None = None,
        template_folder: str | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        super().__init__()
        self.max_body_bytes = max_body_bytes
        if not name or "." in name:
            raise ValueError(f"blueprint name {name!r} must be non-empty and contain no dot")
        self.name = name
        self.import_name: str | None = None
        if url_prefix is not None and not url_prefix.startswith("/"):
            # Flask's Blueprint("admin", __name__) passes an import name here; the reference docs do the same.
            self.import_name, url_prefix = url_prefix, None
        self.url_prefix = clean_prefix(url_prefix)
        self.static_folder = static_folder
        self.template_folder = template_folder
        self.deferred: list[tuple[str, str, tuple[str, ...], Callable[..., Any], str | None, dict[str, Any]]] = []
        self.children: list[tuple[Blueprint, str | None]] = []
        self._apps: list[Any] = []  # the apps it is registered on (their pipelines change with it)

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r} prefix={self.url_prefix!r}>"

    def _check_open(self) -> None:
        if self._apps:
            raise RuntimeError(f"blueprint {self.name!r} is already registered; add its routes before registering it")

    def _add_route(
        self,
        path: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str | None,
        options: dict[str, Any],
    ) -> None:
        self._check_open()
        self.deferred.append(("http", path, methods, handler, name, options))

    def _add_websocket(self, path: str, handler: Callable[..., Any], name: str | None) -> None:
        self._check_open()
        self.deferred.append(("websocket", path, (), handler, name, {}))

    def _changed(self) -> None:
        for app in self._apps:
            app._changed()

    def _registered_on(self, app: Any) -> None:
        if app not in self._apps:
            self._apps.append(app)

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None) -> None:
        """Nest ``blueprint`` under this one (its prefix is appended to this one's)."""
        self._check_open()
        if blueprint is self:
            raise ValueError("a blueprint cannot be registered on itself")
        self.children.append((blueprint, clean_prefix(url_prefix) if url_prefix is not None else None))
