"""The trampoline that makes the app object a server entry point (DESIGN.md §2 rule 1's one exception).

``__call__`` is the ASGI entry; ``__rsgi__``, ``__rsgi_init__`` and ``__rsgi_del__`` are Granian's. Each imports
its adapter lazily, once per app, so the core itself never imports a server protocol.
"""

from __future__ import annotations

from typing import Any


class ServerEntry:
    """Mixed into the application class; see ``gobstopper.adapters`` for the protocol code."""

    _adapters: dict[str, Any]

    def _adapter(self, protocol: str) -> Any:
        adapter = self._adapters.get(protocol)
        if adapter is None:
            if protocol == "rsgi":
                from gobstopper.adapters.rsgi import RSGIAdapter as adapter_class
            else:
                from gobstopper.adapters.asgi import ASGIAdapter as adapter_class
            adapter = self._adapters[protocol] = adapter_class(self)
        return adapter

    @property
    def __call__(self) -> Any:
        """ASGI entry point (uvicorn, ``granian --interface asgi``, httpx/TestClient).

        A property on purpose: ``app(scope, receive, send)`` looks ``__call__`` up on the class and calls what
        the descriptor returns, here the adapter's own coroutine function, so no extra coroutine frame runs per
        request; and ``inspect.iscoroutinefunction(app.__call__)`` stays true for servers that check it.
        """
        adapter = self._adapters.get("asgi") or self._adapter("asgi")
        return adapter.__call__

    @property
    def __rsgi__(self) -> Any:
        """RSGI entry point. Granian reads this attribute once per worker, so the adapter's own coroutine
        function is handed over directly: no extra call frame per request."""
        return self._adapter("rsgi").__call__

    def __rsgi_init__(self, loop: Any) -> None:
        """RSGI worker start: run the startup handlers."""
        self._adapter("rsgi").init(loop)

    def __rsgi_del__(self, loop: Any) -> None:
        """RSGI worker stop: drain and run the shutdown handlers."""
        self._adapter("rsgi").close(loop)
