"""Server-side templates (Jinja2): the ``templates`` extension behind ``app.init_templates()``.

Jinja2 is imported by ``gobstopper.templates.engine`` / ``.extension`` only, when an app sets templates up.
"""

from ._context import current_request

__all__ = ["current_request"]
