"""The template methods the reference documents on the app and on blueprints (``app.init_templates()``,
``app.render_template()``, ``@app.template_filter``...), as mixins of ``Gobstopper`` and ``Scaffold``.

They only record registrations and delegate to the templates extension (``gobstopper.templates.extension``);
Jinja2 is imported when templates are first set up, so an app that never calls ``init_templates`` pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .registry import _takes_request, generation, template_registry

F = TypeVar("F", bound=Callable[..., Any])

def _decorator(kind: str, owner: Any, name: Any) -> Any:
    def register(func: F, key: str | None = None) -> F:
        getattr(template_registry(owner), kind)[key or func.__name__] = func
        generation[0] += 1
        return func

    if callable(name):  # used bare: @app.template_filter
        return register(name)

    def decorator(func: F) -> F:
        return register(func, name)

    return decorator


class TemplatesScaffoldAPI:
    """Template decorators shared by the app and blueprints (context processors, filters, globals, tests).

    Filters, globals and tests registered on a blueprint are available to every template of the app (Jinja2 has
    one environment per app, as in Flask's ``app_template_filter``); a blueprint's context processors run only
    for requests routed to that blueprint (or its children), like Flask's.
    """

    def context_processor(self, func: F) -> F:
        """Register ``func`` (sync or async) returning a dict merged into every template's context.

        ``func`` takes no argument, or one: the current request (``None`` outside a request). Processors run in
        registration order before each render, app ones first, then the route's blueprints' from the outermost;
        later ones override earlier ones and the ``render_template`` keywords override them all (Flask's order).
        """
        template_registry(self).context_processors.append((func, _takes_request(func)))
        generation[0] += 1
        return func

    def template_filter(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Register a filter (``{{ price | currency }}``), named ``name`` or after the function.

        Example:
            >>> @app.template_filter("currency")
            ... def currency_filter(value):
            ...     return f"${value:.2f}"
        """
        return _decorator("filters", self, name)

    def template_global(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Register a global function or value (``{{ get_config('API_URL') }}``)."""
        return _decorator("globals", self, name)

    def template_test(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Register a test (``{% if n is prime %}``)."""
        return _decorator("tests", self, name)

    def add_template_filter(self, func: Callable[..., Any], name: str | None = None) -> None:
        """Register a filter without a decorator (Flask's name)."""
        _decorator("filters", self, name)(func)

    def add_template_global(self, func: Any, name: str | None = None) -> None:
        """Register a global without a decorator (Flask's name)."""
        _decorator("globals", self, name)(func)

    def add_template_test(self, func: Callable[..., bool], name: str | None = None) -> None:
        """Register a test without a decorator (Flask's name)."""
        _decorator("tests", self, name)(func)


class TemplatesAppAPI:
    """The app's template methods; each delegates to ``app.extensions["templates"]``."""

    extensions: dict[str, Any]

    def init_templates(self, template_folder: str = "templates", use_rust: bool | None = None, **kwargs: Any) -> Any:
        """Set up Jinja2 templates for this app; returns the :class:`~gobstopper.templates.engine.TemplateEngine`.

        Args:
            template_folder: relative to the app's module folder (or the working directory), or absolute.
            use_rust: ``None``/``False``; ``True`` raises ``ImportError``: templates are Jinja2 only here (the
                reference had a Rust engine; we do not).
            **kwargs: ``auto_reload`` (default: ``app.debug``; checks files on every render), ``cache_size``
                (400), ``enable_async`` (for templates that await), ``enable_streaming`` (accepted; streaming
                always works); other keywords go to ``jinja2.Environment``.

        Raises:
            ImportError: ``use_rust=True``, or Jinja2 is not installed (``pip install gobstopper[templates]``).
            FileNotFoundError: an explicitly given ``template_folder`` does not exist.
        """
        if use_rust:
            raise ImportError(
                "Gobstopper's templates are Jinja2 only: there is no Rust template engine "
                "(call init_templates() without use_rust=True)"
            )
        from .extension import Templates

        extension = self.extensions.get("templates")
        if extension is None:
            # The default folder may be missing (the reference's examples call init_templates() anywhere); a
            # folder the app names must exist.
            extension = Templates(template_folder, must_exist=template_folder != "templates", **kwargs)
            self.register_extension(extension)  # type: ignore[attr-defined]
        else:
            extension.configure(template_folder, **kwargs)
        return extension.engine

    @property
    def template_engine(self) -> Any:
        """The :class:`~gobstopper.templates.engine.TemplateEngine`, or ``None`` before ``init_templates()``."""
        extension = self.extensions.get("templates")
        return None if extension is None else extension.engine

    def _templates(self) -> Any:
        extension = self.extensions.get("templates")
        if extension is None:
            raise RuntimeError("templates are not set up: call app.init_templates() first")
        return extension

    async def render_template(self, template_name: str, stream: bool = False, **context: Any) -> Any:
        """Render a template to an HTML response (``text/html; charset=utf-8`` for HTML names).

        Args:
            template_name: the template's path below a template folder (``"users/list.html"``).
            stream: send the page as it renders (a ``StreamResponse``; rendering stops if the client leaves).
            **context: template variables; they override context processors' values.

        Raises:
            jinja2.TemplateNotFound: no template folder has ``template_name``.
            RuntimeError: ``init_templates()`` was not called.
        """
        return await self._templates().render(template_name, context, stream=stream)

    async def render_template_string(self, source: str, **context: Any) -> Any:
        """Render template source (always autoescaped) to an HTML response, with the same context as files."""
        return await self._templates().render_string(source, context)

    async def stream_template(self, template_name: str, **context: Any) -> Any:
        """``render_template(template_name, stream=True, **context)`` (Flask's name)."""
        return await self._templates().render(template_name, context, stream=True)

    async def render_block(self, template_name: str, block_name: str, **context: Any) -> str:
        """Render one ``{% block %}`` of a template to a string: a fragment for a partial update (Datastar,
        htmx). Returning it from a handler gives an HTML response.

        Raises:
            KeyError: the template has no block ``block_name``.
        """
        return await self._templates().render_block(template_name, block_name, context)  # type: ignore[no-any-return]
