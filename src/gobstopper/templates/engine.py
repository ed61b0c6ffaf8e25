"""The Jinja2 template engine behind ``app.init_templates()`` (the reference's ``TemplateEngine``).

Why Jinja2 and a *sync* environment: Jinja2 is the library Flask and Starlette render with; its async mode
(``enable_async=True``) wraps every loop and call in a coroutine and measured several times slower on the same
template (``docs/templates.md`` has the figures), so the default environment is sync and renders inline (a page
render is tens of microseconds). ``enable_async=True`` is there for templates that call awaitables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jinja2

#: Names rendered with HTML autoescaping (Flask's list); ``render_template_string`` always autoescapes.
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "xhtml", "svg")

#: Bytes gathered in a worker thread before a streamed chunk is sent (a page of a few KiB per chunk).
STREAM_CHUNK_BYTES = 8192


class TemplateEngine:
    """Jinja2 environment with a search path, filters, globals and tests.

    Args:
        template_folder: the first folder searched (blueprint folders follow, see :meth:`add_search_path`).
        auto_reload: check a template's file for changes on every use (a ``stat`` per render): for development.
        cache_size: compiled templates kept (Jinja2's LRU; ``0`` disables the cache, ``-1`` keeps all).
        enable_async: an async environment (``{{ await_something() }}`` in templates); slower, see the module doc.
        **options: other ``jinja2.Environment`` options (``trim_blocks``, ``extensions``...).

    Example:
        >>> engine = TemplateEngine("templates", auto_reload=False)
        >>> engine.render_string("Hello {{ name }}", name="<b>")
        'Hello &lt;b&gt;'
    """

    def __init__(
        self,
        template_folder: str | Path = "templates",
        auto_reload: bool = True,
        cache_size: int = 400,
        *,
        enable_async: bool = False,
        **options: Any,
    ) -> None:
        self.search_paths: list[str] = [os.fspath(template_folder)]
        self.enable_async = enable_async
        options.setdefault(
            "autoescape", jinja2.select_autoescape(AUTOESCAPE_EXTENSIONS, default_for_string=True, default=False)
        )
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.search_paths),
            auto_reload=auto_reload,
            cache_size=cache_size,
            enable_async=enable_async,
            **options,
        )

    @property
    def auto_reload(self) -> bool:
        """Whether templates are checked for changes on every use."""
        return bool(self.env.auto_reload)

    @auto_reload.setter
    def auto_reload(self, value: bool) -> None:
        self.env.auto_reload = value

    def add_search_path(self, path: str | Path) -> None:
        """Search ``path`` after the folders already known (used by blueprints; Flask's lookup order)."""
        path = os.fspath(path)
        if path not in self.search_paths:
            self.search_paths.append(path)
            self.env.loader = jinja2.FileSystemLoader(list(self.search_paths))

    def set_search_paths(self, paths: Iterable[str | Path]) -> None:
        """Replace the search path (the app's folder, then blueprints' in registration order)."""
        folders = [os.fspath(p) for p in paths]
        if folders != self.search_paths:
            self.search_paths = folders
            self.env.loader = jinja2.FileSystemLoader(list(folders))

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Add a filter: ``{{ value | name }}``."""
        self.env.filters[name] = func

    def add_global(self, name: str, func: Any) -> None:
        """Add a global: ``{{ name(...) }}`` or ``{{ name }}``."""
        self.env.globals[name] = func

    def add_test(self, name: str, func: Callable[..., bool]) -> None:
        """Add a test: ``{% if value is name %}``."""
        self.env.tests[name] = func

    def get_template(self, name: str) -> jinja2.Template:
        """The compiled template ``name`` (``jinja2.TemplateNotFound`` when no folder has it)."""
        return self.env.get_template(name)

    def render(self, template_name: str, **context: Any) -> str:
        """Render a template file to a string (sync environment only)."""
        return self.env.get_template(template_name).render(context)

    def render_string(self, source: str, **context: Any) -> str:
        """Render template source (autoescaped) to a string (sync environment only)."""
        return self.env.from_string(source).render(context)

    async def render_template_async(self, template_name: str, **context: Any) -> str:
        """Render a template file (the reference's name); works with both environments."""
        template = self.env.get_template(template_name)
        if self.enable_async:
            return await template.render_async(context)
        return template.render(context)

    def render_block(self, template_name: str, block_name: str, **context: Any) -> str:
        """Render one ``{% block %}`` of a template with ``context`` (a fragment for a partial update).

        Raises:
            KeyError: the template has no such block.
        """
        template = self.env.get_template(template_name)
        block = template.blocks.get(block_name)
        if block is None:
            raise KeyError(f"template {template_name!r} has no block {block_name!r}")
        ctx = template.new_context(context)
        return self.env.concat(block(ctx))  # type: ignore[attr-defined,no-any-return]

    def generate(self, template: jinja2.Template, context: dict[str, Any]) -> Iterator[str]:
        """The rendered template as chunks of about ``STREAM_CHUNK_BYTES`` (sync environment).

        Jinja2 yields every text run and expression separately; gathering them keeps the number of thread
        hops and writes per page small.
        """
        buffer: list[str] = []
        size = 0
        for piece in template.generate(context):
            buffer.append(piece)
            size += len(piece)
            if size >= STREAM_CHUNK_BYTES:
                yield "".join(buffer)
                buffer.clear()
                size = 0
        if buffer:
            yield "".join(buffer)


__all__ = ["AUTOESCAPE_EXTENSIONS", "STREAM_CHUNK_BYTES", "TemplateEngine"]
