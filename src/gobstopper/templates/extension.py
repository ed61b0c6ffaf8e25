"""The ``templates`` extension: one Jinja2 engine per app, the request-aware context, rendering to responses.

Rules:

1. Nothing here runs for apps that never call ``init_templates()``: the request binding (a one-line middleware
   setting a ``ContextVar``) is added by ``init_app``.
2. Every render sees the current request's ``request``, ``session``, ``csrf_token()``, ``get_notifications()`` and
   ``url_for``, although ``render_template`` takes no request (the reference's signature).
3. The environment's filters, globals, tests and search path are the app's and its blueprints' registrations,
   re-read only when a registration or a blueprint was added since the last render (no per-render walk).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._env import env_flag
from ..http.response import HTML, Response, StreamResponse
from ._context import _request, bind_request, current_request
from .engine import STREAM_CHUNK_BYTES, TemplateEngine
from .registry import generation

#: The middleware binding the request runs outside every other middleware.
BIND_PRIORITY = 1_000_000


def root_path(import_name: str | None) -> str:
    """The folder of the module ``import_name`` (Flask's ``root_path``), else the working directory."""
    module = sys.modules.get(import_name or "")
    file = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(file)) if file else os.getcwd()


def resolve_folder(folder: str, import_name: str | None) -> str:
    """``folder`` if absolute; else below the module's folder, or below the working directory if only that
    exists (``granian app:app`` run from a project folder)."""
    if os.path.isabs(folder):
        return folder
    beside_module = os.path.join(root_path(import_name), folder)
    if not os.path.isdir(beside_module) and os.path.isdir(folder):
        return os.path.abspath(folder)
    return beside_module


class _CsrfToken:
    """``{{ csrf_token() }}`` and ``{{ csrf_token }}`` both give a token for the current request's session."""

    __slots__ = ()

    def __call__(self) -> str:
        request = current_request()
        if request is None:
            raise RuntimeError("csrf_token() is only available while a request is handled")
        preset = request.__dict__.get("_template_csrf_token")
        if preset is not None:
            return preset  # type: ignore[no-any-return]
        from ..middleware.csrf import csrf_token

        return csrf_token(request)

    def __str__(self) -> str:
        return self()

    __html__ = __str__


def _get_notifications(with_categories: bool = False, category_filter: Any = ()) -> list[Any]:
    from ..http.notifications import get_notifications

    request = current_request()
    if request is None:
        return []
    return get_notifications(request, with_categories, category_filter)


class Templates:
    """The extension object (``app.extensions["templates"]``); ``app.init_templates()`` creates it.

    Args:
        template_folder: the app's template folder (see :func:`resolve_folder`).
        must_exist: raise ``FileNotFoundError`` when the folder does not exist.
        auto_reload: ``None`` follows ``app.debug``, and is also on when ``GOBSTOPPER_TEMPLATES_AUTO_RELOAD`` is
            true (``gobstopper run --reload`` sets it: an edited template is served by the next request).
        cache_size, enable_async, **options: see :class:`~gobstopper.templates.engine.TemplateEngine`.
    """

    name = "templates"

    def __init__(
        self,
        template_folder: str = "templates",
        *,
        must_exist: bool = False,
        auto_reload: bool | None = None,
        cache_size: int = 400,
        enable_async: bool = False,
        enable_streaming: bool = True,
        **options: Any,
    ) -> None:
        self.template_folder = template_folder
        self.must_exist = must_exist
        self.auto_reload = auto_reload
        self.cache_size = cache_size
        self.enable_async = enable_async
        self.options = options
        self.app: Any = None
        self.engine: TemplateEngine = None  # type: ignore[assignment]
        self._seen: tuple[int, int] = (-1, -1)
        self._compiled: dict[str, Any] = {}
        self._app_processors: list[tuple[Any, bool]] = []
        self._bp_processors = False
        self._folder = template_folder

    def init_app(self, app: Any) -> None:
        self._build(app)
        app.add_middleware(bind_request, priority=BIND_PRIORITY)

    def _build(self, app: Any) -> None:
        self.app = app
        self._folder = resolve_folder(self.template_folder, app.name)
        if self.must_exist and not os.path.isdir(self._folder):
            raise FileNotFoundError(f"template folder {self._folder!r} does not exist")
        auto_reload = self.auto_reload
        if auto_reload is None:
            auto_reload = bool(app.debug) or env_flag("GOBSTOPPER_TEMPLATES_AUTO_RELOAD")
        self.engine = TemplateEngine(
            self._folder,
            auto_reload=auto_reload,
            cache_size=self.cache_size,
            enable_async=self.enable_async,
            **self.options,
        )
        env = self.engine.env
        self._base = (dict(env.filters), dict(env.globals), dict(env.tests))
        self._sync()

    def configure(self, template_folder: str, **kwargs: Any) -> None:
        """A second ``init_templates()``: a new engine with the new settings (same extension object)."""
        app = self.app
        self.__init__(template_folder, must_exist=template_folder != "templates", **kwargs)  # type: ignore[misc]
        self._build(app)

    # -- the environment follows the registrations --------------------------------------------------------------

    def _sync(self) -> None:
        app = self.app
        env = self.engine.env
        filters, globals_, tests = (dict(d) for d in self._base)
        globals_.update(
            url_for=app.url_for,
            csrf_token=_CsrfToken(),
            get_notifications=_get_notifications,
            config=app.config,
        )
        paths = [self._folder]
        for owner in (app, *app.blueprints.values()):
            registry = owner.__dict__.get("_template_registry")
            if registry is not None:
                filters.update(registry.filters)
                globals_.update(registry.globals)
                tests.update(registry.tests)
            folder = getattr(owner, "template_folder", None) if owner is not app else None
            if folder:
                paths.append(resolve_folder(folder, getattr(owner, "import_name", None) or app.name))
        env.filters.clear()
        env.filters.update(filters)
        env.globals.clear()
        env.globals.update(globals_)
        env.tests.clear()
        env.tests.update(tests)
        self.engine.set_search_paths(paths)
        registry = app.__dict__.get("_template_registry")
        self._app_processors = list(registry.context_processors) if registry is not None else []
        self._bp_processors = any(
            bp.__dict__.get("_template_registry") is not None and bp.__dict__["_template_registry"].context_processors
            for bp in app.blueprints.values()
        )
        # Compiled templates by name, while files are not watched (Jinja2's own cache checks a loader weakref and
        # an LRU on every lookup); emptied whenever the environment changes.
        self._compiled = {}
        self._seen = (generation[0], len(app.blueprints))

    # -- context -------------------------------------------------------------------------------------------------

    async def context(self, request: Any, context: dict[str, Any]) -> dict[str, Any]:
        """The render context: request values, then context processors, then ``context`` (which wins)."""
        ctx: dict[str, Any] = {
            "request": request,
            "session": None if request is None else request.__dict__.get("session"),
        }
        for func, takes_request in self._processors(request):
            rv = func(request) if takes_request else func()
            if inspect.isawaitable(rv):
                rv = await rv
            if rv:
                ctx.update(rv)
        ctx.update(context)
        return ctx

    def _processors(self, request: Any) -> list[tuple[Any, bool]]:
        found = self._app_processors
        if not self._bp_processors:
            return found
        app = self.app
        found = list(found)
        endpoint = getattr(request, "endpoint", None) if request is not None else None
        if endpoint and "." in endpoint:
            parts = endpoint.split(".")[:-1]
            for i in range(1, len(parts) + 1):
                blueprint = app.blueprints.get(".".join(parts[:i]))
                bp_registry = blueprint.__dict__.get("_template_registry") if blueprint is not None else None
                if bp_registry is not None:
                    found += bp_registry.context_processors
        return found

    # -- rendering -----------------------------------------------------------------------------------------------

    def _template(self, name: str) -> Any:
        if self._seen != (generation[0], len(self.app.blueprints)):
            self._sync()
        template = self._compiled.get(name)
        if template is None:
            env = self.engine.env
            template = env.get_template(name)
            if not env.auto_reload and len(self._compiled) < 1024:
                self._compiled[name] = template
        return template

    async def render(self, template_name: str, context: dict[str, Any], stream: bool = False) -> Response:
        # The common case inline (the benchmark's 1.1 x bare Jinja2 budget): a compiled template by name, no
        # context processor, a sync environment.
        template = self._compiled.get(template_name) if self._seen[0] == generation[0] else None
        if template is None or self._seen[1] != len(self.app.blueprints):
            template = self._template(template_name)
        request = _request.get()
        if self._app_processors or self._bp_processors:
            ctx = await self.context(request, context)
        else:
            ctx = {"request": request, "session": None if request is None else request.__dict__.get("session")}
            ctx.update(context)
        content_type = _content_types.get(template_name) or _content_type(template_name)
        if stream:
            if request is not None and "_security" in request.__dict__:
                # The session is saved before a streamed body renders: make the token (and its secret) now.
                from ..middleware.csrf import csrf_token

                request.__dict__["_template_csrf_token"] = csrf_token(request)
            if self.enable_async:
                chunks: Any = _generate_async(template, ctx)
            else:
                chunks = _on_the_loop(self.engine.generate(template, ctx))
            return StreamResponse(chunks, content_type=content_type)
        body = await template.render_async(ctx) if self.enable_async else template.render(ctx)
        return Response(body) if content_type is HTML else Response(body, content_type=content_type)

    async def render_string(self, source: str, context: dict[str, Any]) -> Response:
        if self._seen != (generation[0], len(self.app.blueprints)):
            self._sync()
        template = self.engine.env.from_string(source)
        ctx = await self.context(current_request(), context)
        body = await template.render_async(ctx) if self.enable_async else template.render(ctx)
        return Response(body, content_type=HTML)

    async def render_block(self, template_name: str, block_name: str, context: dict[str, Any]) -> str:
        template = self._template(template_name)
        block = template.blocks.get(block_name)
        if block is None:
            raise KeyError(f"template {template_name!r} has no block {block_name!r}")
        ctx = template.new_context(await self.context(current_request(), context))
        if self.enable_async:
            return "".join([piece async for piece in block(ctx)])
        return "".join(block(ctx))


_content_types: dict[str, str] = {}


def _content_type(template_name: str) -> str:
    content_type = _content_types.get(template_name)
    if content_type is None:
        content_type = _guess_content_type(template_name)
        if len(_content_types) < 1024:
            _content_types[template_name] = content_type
    return content_type


def _guess_content_type(template_name: str) -> str:
    # HTML for HTML-ish names and names without a known type; the guessed type (UTF-8) otherwise.
    extension = template_name.rsplit(".", 1)[-1].lower() if "." in template_name else ""
    if extension in ("", "html", "htm", "jinja", "jinja2", "j2"):
        return HTML  # the constant itself: render() tests it with ``is``
    from .._native.statics import content_type

    guessed: str = content_type(template_name)
    if guessed.startswith("text/") and "charset" not in guessed:
        guessed += "; charset=utf-8"
    return guessed if guessed != "application/octet-stream" else HTML


async def _on_the_loop(chunks: Iterator[str]) -> AsyncIterator[str]:
    """A sync template's chunks, rendered on the event loop one chunk (about ``STREAM_CHUNK_BYTES``) at a time.

    Rendering is CPU work on Python objects, as the whole page is for ``render_template`` without ``stream``: the
    loop gets control back after each chunk, so other requests run between them. A worker thread per chunk, as a
    sync stream gets by default, cost a thread hop per chunk and a thread per concurrent page (the streamed page's
    RSS grew 1.12 x from 1 to 20 clients with them).
    """
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)  # a send need not suspend (a fast client): give the loop its turn here


async def _generate_async(template: Any, context: dict[str, Any]) -> AsyncIterator[str]:
    buffer: list[str] = []
    size = 0
    async for piece in template.generate_async(context):
        buffer.append(piece)
        size += len(piece)
        if size >= STREAM_CHUNK_BYTES:
            yield "".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer)
