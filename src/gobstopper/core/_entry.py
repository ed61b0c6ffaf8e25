"""The trampoline that makes the app object a server entry point (the one exception to docs/architecture.md rule 1).

``__call__`` is the ASGI entry; ``__rsgi__``, ``__rsgi_init__`` and ``__rsgi_del__`` are Granian's. Each imports
its adapter lazily, once per app, so the core itself never imports a server protocol.
"""

from __future__ import annotations

import asyncio.coroutines
import inspect
from collections.abc import Callable
from typing import Any


def _mark_coroutine_function(function: Callable[..., Any]) -> Callable[..., Any]:
    # ``__call__`` returns the adapter's coroutine rather than being one (a coroutine frame fewer per request);
    # servers pick ASGI 3 by asking asyncio/inspect.iscoroutinefunction, so mark it as they understand.
    if hasattr(inspect, "markcoroutinefunction"):  # Python >= 3.12
        return inspect.markcoroutinefunction(function)
    function._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]  # what 3.10/3.11 read
    return function


class ServerEntry:
    """Mixed into the application class; see ``gobstopper.adapters`` for the protocol code."""

    _adapters: dict[str, Any]
    _asgi_entry: Callable[..., Any] | None = None

    def _adapter(self, protocol: str) -> Any:
        adapter = self._adapters.get(protocol)
        if adapter is None:
            if protocol == "rsgi":
                from gobstopper.adapters.rsgi import RSGIAdapter as adapter_class
            else:
                from gobstopper.adapters.asgi import ASGIAdapter as adapter_class
            adapter = self._adapters[protocol] = adapter_class(self)
        return adapter

    @_mark_coroutine_function
    def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        """ASGI entry point (uvicorn, ``granian --interface asgi``, httpx/TestClient).

        A plain function that returns the adapter's coroutine, so no extra coroutine frame runs per request;
        it is marked as a coroutine function, so servers that check (uvicorn, Starlette) see an ASGI 3 app.
        """
        entry = self._asgi_entry
        if entry is None:
            entry = self._asgi_entry = self._adapter("asgi").__call__
        return entry(scope, receive, send)

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
