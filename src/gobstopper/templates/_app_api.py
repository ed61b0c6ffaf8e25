"""The template methods the reference documents on the app and on blueprints (``app.init_templates()``,
``app.render_template()``, ``@app.template_filter``...), as mixins of ``Gobstopper`` and ``Scaffold``.

They only delegate to the templates extension; Jinja2 is imported when templates are first set up.
"""

from __future__ import annotations


class TemplatesScaffoldAPI:
    """Template decorators shared by the app and blueprints (context processors, filters, globals, tests)."""


class TemplatesAppAPI:
    """The app's template methods."""
