"""The OpenAPI extension: the document's route, the docs pages and their files, registered on an app."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from ...core.blueprint import Blueprint
from ...http.errors import NotFound
from ...http.response import FileResponse, Response
from . import _ui
from ._facts import _route_facts, _route_version
from .decorators import exclude
from .generator import OpenAPIConfig, build_default_info, build_document

__all__ = ["OpenAPI", "attach_openapi", "attach_openapi_blueprint"]

logger = logging.getLogger("gobstopper.openapi")

DEFAULT_PATH = "/openapi.json"


def _production() -> bool:
    return os.environ.get("ENV", "").strip().lower() == "production"


class OpenAPI:
    """An OpenAPI 3.1 document of an app's routes, served as JSON, with Swagger UI and ReDoc pages.

    Register it with ``app.register_extension(OpenAPI(...))`` or, as the reference does, with
    :func:`attach_openapi` / :func:`attach_openapi_blueprint`. The document is built on first request from the
    app's routes and rebuilt when routes are added.

    Args:
        title, version, description, terms_of_service, contact, license: the Info Object's fields.
        servers, tags, external_docs, security: the document's ``servers``, ``tags``, ``externalDocs`` and
            default ``security``. Without ``servers``, an app mounted under a prefix (``root_path``) announces
            that prefix as its server.
        components: Components merged into the generated ones (yours win on a name clash).
        security_schemes: Security Scheme Objects by name, e.g.
            ``{"bearer": {"type": "http", "scheme": "bearer"}}``; operations refer to them with ``@security``.
        openapi: the version written in the document; 3.1.x only (the schemas are JSON Schema 2020-12).
        path: where the JSON document is served (``/openapi.json``).
        docs_path: the Swagger UI page (``/docs`` next to ``path``).
        redoc_path: the ReDoc page (``/redoc`` next to ``path``).
        assets_path: where the UIs' files are served (``/_openapi`` next to ``path``).
        enable_docs, enable_redoc: serve the Swagger UI / ReDoc page. ``None`` (the default) means yes, except
            when ``ENV=production``: docs pages are off in production unless enabled explicitly with ``True``.
            The JSON document is always served.
        enable_elements, elements_path: accepted for the reference's signature; Stoplight Elements has no
            offline package, so it is never served (``enable_elements=True`` logs a warning).
        include_mode: ``"auto"`` (every route, the default) or ``"opt_in"`` (only decorated handlers).
        include_blueprints: only document routes registered through these blueprints.
        include_prefixes: only document routes whose path starts with one of these.
        validate_spec: check each generated document with ``openapi-spec-validator`` (a ``dev`` dependency)
            and keep the problems in :attr:`last_validation_warnings`; ``strict_validation`` raises instead.
        name: the extension's name in ``app.extensions`` (``"openapi"``, or ``"openapi:<path>"`` for a
            document not at ``/openapi.json``).

    Raises:
        ValueError: ``openapi`` is not 3.1.x or ``include_mode`` is unknown.
        RuntimeError: a docs page is enabled explicitly but its package is missing
            (``pip install 'gobstopper[openapi]'``).
    """

    def __init__(
        self,
        *,
        title: str = "Gobstopper Service",
        version: str = "0.1.0",
        description: str | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, Any] | None = None,
        license: dict[str, Any] | None = None,
        servers: list[dict[str, Any]] | None = None,
        tags: list[dict[str, Any]] | None = None,
        external_docs: dict[str, Any] | None = None,
        components: dict[str, Any] | None = None,
        security: list[dict[str, Any]] | None = None,
        security_schemes: dict[str, Any] | None = None,
        openapi: str = "3.1.0",
        path: str = DEFAULT_PATH,
        docs_path: str | None = None,
        redoc_path: str | None = None,
        assets_path: str | None = None,
        enable_docs: bool | None = None,
        enable_redoc: bool | None = None,
        enable_elements: bool | None = None,
        elements_path: str | None = None,
        include_mode: str = "auto",
        include_blueprints: list[Any] | None = None,
        include_prefixes: list[str] | None = None,
        validate_spec: bool = False,
        strict_validation: bool = False,
        name: str | None = None,
    ) -> None:
        if not path.startswith("/"):
            path = "/" + path
        self.path = path
        base = path.rsplit("/", 1)[0]
        self.docs_path = docs_path or f"{base}/docs"
        self.redoc_path = redoc_path or f"{base}/redoc"
        self.assets_path = (assets_path or f"{base}/_openapi").rstrip("/")
        self.name = name or ("openapi" if path == DEFAULT_PATH else f"openapi:{path}")
        self.config = OpenAPIConfig(
            info=build_default_info(title, version, description, terms_of_service, contact, license),
            openapi=openapi,
            servers=servers,
            tags=tags,
            external_docs=external_docs,
            components=components,
            security=security,
            security_schemes=security_schemes,
            include_mode=include_mode,
            include_blueprints=list(include_blueprints or ()),
            include_prefixes=list(include_prefixes or ()),
        )
        self.validate_spec = validate_spec or strict_validation
        self.strict_validation = strict_validation
        #: Problems ``openapi-spec-validator`` found in the last document built (with ``validate_spec``).
        self.last_validation_warnings: list[str] = []
        if enable_elements:
            logger.warning("openapi: Stoplight Elements has no offline bundle and is not served; use %s", "ReDoc")
        self._enable_docs = self._wanted(enable_docs, "Swagger UI", _ui.swagger_files)
        self._enable_redoc = self._wanted(enable_redoc, "ReDoc", _ui.redoc_files)
        self.app: Any = None
        self.blueprints: list[Blueprint] = []
        self._cache: dict[str, bytes] = {}
        self._cache_version: Any = None
        self._documents: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _wanted(flag: bool | None, what: str, files: Callable[[], dict[str, Path] | None]) -> dict[str, Path] | None:
        if flag is False or (flag is None and _production()):
            return None
        found = files()
        if found is None:
            message = f"openapi: {what} is not installed; pip install 'gobstopper[openapi]' to serve its page"
            if flag:
                raise RuntimeError(message)
            logger.info(message)
        return found

    @property
    def title(self) -> str:
        return str(self.config.info.get("title", "API"))

    # -- the extension protocol --------------------------------------------------------------------------------

    def init_app(self, app: Any) -> None:
        """Register the document's route, the docs pages and their files (a blueprint of this extension)."""
        self.app = app
        bp = Blueprint(_blueprint_name(self.path))
        handlers: list[Callable[..., Any]] = []

        async def spec(request: Any) -> Response:
            return Response(self.json(request.root_path), content_type="application/json", headers=_ui.PAGE_HEADERS)

        bp.get(self.path, name="spec")(spec)
        handlers.append(spec)
        files: dict[str, Path] = {}
        if self._enable_docs:
            files.update(self._enable_docs)

            async def swagger_ui(request: Any) -> Response:
                page = _ui.swagger_page(self.title, request.root_path + self.path, request.root_path + self.assets_path)
                return _page(page, _ui.SWAGGER_CSP)

            bp.get(self.docs_path, name="swagger_ui")(swagger_ui)
            handlers.append(swagger_ui)
        if self._enable_redoc:
            files.update(self._enable_redoc)

            async def redoc(request: Any) -> Response:
                page = _ui.redoc_page(self.title, request.root_path + self.path, request.root_path + self.assets_path)
                return _page(page, _ui.REDOC_CSP)

            bp.get(self.redoc_path, name="redoc")(redoc)
            handlers.append(redoc)
        if files:

            async def asset(request: Any, name: str) -> FileResponse:
                path = files.get(name)  # a fixed list of package files: nothing from the request reaches the disk
                if path is None:
                    raise NotFound()
                headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
                if name.endswith(".html"):
                    headers["Content-Security-Policy"] = _ui.SWAGGER_CSP
                return FileResponse(path, headers=headers)

            bp.get(self.assets_path + "/<name>", name="asset")(asset)
            handlers.append(asset)
        for handler in handlers:
            exclude(handler)  # out of every document of the app, not only this one
        self.blueprints = [bp]
        if getattr(app, "openapi", None) is None:
            app.openapi = self  # the reference's handle (app.openapi.invalidate())
        registry = getattr(app, "openapi_registry", None)
        if registry is None:
            registry = app.openapi_registry = {}
        registry[self.path] = self

    # -- the document ------------------------------------------------------------------------------------------

    def document(self, root_path: str = "") -> dict[str, Any]:
        """The OpenAPI document (a dict; built once, rebuilt after routes change).

        Args:
            root_path: the prefix the app is mounted under, announced as the server when no ``servers`` were
                configured.

        Raises:
            RuntimeError: the extension is not registered on an app, or ``strict_validation`` found a problem.
        """
        if self.app is None:
            raise RuntimeError("this OpenAPI extension is not registered on an app (app.register_extension)")
        version = _route_version(self.app)
        if version != self._cache_version:
            self._cache.clear()
            self._documents.clear()
            self._cache_version = version
        doc = self._documents.get(root_path)
        if doc is None:
            doc = build_document(_route_facts(self.app), self.config)
            if root_path and not self.config.servers:
                doc = {"openapi": doc["openapi"], "info": doc["info"], "servers": [{"url": root_path}], **doc}
            if self.validate_spec:
                self._validate(doc)
            self._documents[root_path] = doc
        return doc

    def json(self, root_path: str = "") -> bytes:
        """The document encoded as JSON (cached like :meth:`document`)."""
        self.document(root_path)  # refreshes the caches when the routes changed
        data = self._cache.get(root_path)
        if data is None:
            data = self._cache[root_path] = msgspec.json.encode(self.document(root_path))
        return data

    def invalidate(self) -> None:
        """Forget the built document (after changing decorators or the configuration at run time)."""
        self._cache_version = None

    def _validate(self, doc: dict[str, Any]) -> None:
        try:
            from openapi_spec_validator import validate
        except ImportError:
            self.last_validation_warnings = ["openapi-spec-validator is not installed"]
            return
        try:
            validate(msgspec.json.decode(msgspec.json.encode(doc)))
        except Exception as exc:
            self.last_validation_warnings = [str(exc).splitlines()[0]]
            if self.strict_validation:
                raise RuntimeError(f"the generated OpenAPI document is invalid: {exc}") from exc
            logger.warning("openapi: the generated document is invalid: %s", self.last_validation_warnings[0])
        else:
            self.last_validation_warnings = []


def _page(body: str, csp: str) -> Response:
    response = Response(body, content_type="text/html; charset=utf-8", headers=_ui.PAGE_HEADERS)
    response.headers["Content-Security-Policy"] = csp
    return response


def _blueprint_name(path: str) -> str:
    if path == DEFAULT_PATH:
        return "openapi"
    return "openapi_" + re.sub(r"[^A-Za-z0-9_]", "_", path.strip("/"))


def attach_openapi(app: Any, **options: Any) -> OpenAPI:
    """Serve an OpenAPI 3.1 document of ``app`` at ``/openapi.json``, Swagger UI at ``/docs`` and ReDoc at
    ``/redoc`` (the reference's entry point). ``options`` are :class:`OpenAPI`'s.

    Returns the registered extension (also ``app.extensions["openapi"]`` and, as in the reference,
    ``app.openapi``).

    Example:
        >>> attach_openapi(app, title="My API", version="0.5.0")
    """
    return app.register_extension(OpenAPI(**options))  # type: ignore[no-any-return]


def attach_openapi_blueprint(app: Any, blueprint: Any, *, path: str | None = None, **options: Any) -> OpenAPI:
    """Serve a document of one blueprint's routes (its nested blueprints' included).

    ``path`` defaults to ``<blueprint prefix>/openapi.json``; the docs pages sit next to it (``<prefix>/docs``,
    ``<prefix>/redoc``). Other ``options`` are :class:`OpenAPI`'s; the title defaults to the blueprint's name.

    Example:
        >>> attach_openapi_blueprint(app, api_bp, path="/api/openapi.json")
    """
    prefix = (getattr(blueprint, "url_prefix", "") or "").rstrip("/")
    options.setdefault("title", f"{blueprint.name} API")
    options["include_blueprints"] = [blueprint, *options.get("include_blueprints", ())]
    return attach_openapi(app, path=path or f"{prefix}/openapi.json", **options)
