"""Extensions: how templates, background tasks, the cache, OpenAPI and a user's own code plug into an app.

An extension is an object with a ``name`` and an ``init_app(app)`` method (Flask's convention). It is added with
:meth:`Gobstopper.register_extension`, which stores it in ``app.extensions[name]``, calls ``init_app(app)`` and
registers the blueprints it contributes. Everything else is optional and found by attribute:

* ``startup()`` / ``shutdown()``: sync or async, run once per worker. Extensions start in registration order,
  before the app's own ``on_startup`` handlers (so those can use them), and stop in reverse order, after the app's
  ``on_shutdown`` handlers and after in-flight requests finished.
* ``blueprints``: an iterable of :class:`~gobstopper.core.blueprint.Blueprint` registered with the extension.
* ``cli``: a ``click.Group`` the ``gobstopper`` command adds under the extension's name.

See ``docs/extensions.md`` for a complete example.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Extension(Protocol):
    """The protocol an extension implements (the optional parts are described in the module docstring)."""

    name: str

    def init_app(self, app: Any) -> None:
        """Attach to ``app``: register routes, hooks, middleware, template globals...; called once per app."""
        ...


def check_extension(extension: Any) -> str:
    """The extension's name, after checking it has the shape of one.

    Raises:
        TypeError: ``extension`` has no ``name`` string or no callable ``init_app``.
    """
    name = getattr(extension, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"an extension needs a non-empty string `name`, {extension!r} has {name!r}")
    if not callable(getattr(extension, "init_app", None)):
        raise TypeError(f"extension {name!r} has no init_app(app) method")
    return name
