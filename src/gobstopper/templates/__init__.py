"""Server-side templates (Jinja2): the ``templates`` extension behind ``app.init_templates()``."""
