"""Stopping under a Granian worker: let the app close its long-lived connections before Granian drops them.

A Granian worker stops on SIGTERM (what its main process, Docker, Kubernetes and systemd send) or SIGINT: its
handler, registered on the worker's event loop, stops the Rust server at once, which cancels every open WebSocket
connection without a close frame (the client sees 1006). The app hears of it only afterwards, from ``__rsgi_del__``
or the ASGI lifespan shutdown (``docs/deployment.md``, "Shutdown"). So in a Granian worker the adapter takes SIGTERM
over: it runs :meth:`~gobstopper.Gobstopper.begin_shutdown` (WebSockets get 1001, event streams end, new requests
get 503), waits for the WebSocket handlers to return (bounded), then raises SIGINT, whose handler is still
Granian's, and Granian stops as it would have.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

#: The longest the adapter holds Granian's stop back for open WebSockets (seconds).
STOP_GRACE = 5.0


def _loop_owns(signum: int, loop: asyncio.AbstractEventLoop) -> bool:
    # A handler registered with loop.add_signal_handler: asyncio installs a module-level no-op, uvloop a method of
    # the loop itself. Anything else (uvicorn's Server.handle_exit, a user's handler) is left alone.
    handler = signal.getsignal(signum)
    if getattr(handler, "__self__", None) is loop:
        return True
    return getattr(handler, "__name__", "") == "_sighandler_noop" and getattr(handler, "__module__", "") == (
        "asyncio.unix_events"
    )


def take_over_sigterm(app: Any, loop: asyncio.AbstractEventLoop) -> bool:
    """In a Granian worker, handle SIGTERM here first (see the module docstring). Returns whether it did.

    Nothing changes elsewhere: under uvicorn (its own handlers), Granian's embedded server or a worker thread
    (signals belong to the main thread) this returns False.
    """
    if "granian" not in sys.modules or sys.platform == "win32":
        return False
    if not (_loop_owns(signal.SIGTERM, loop) and _loop_owns(signal.SIGINT, loop)):
        return False
    state = {"stopping": False}

    def on_sigterm() -> None:
        if not state["stopping"]:
            state["stopping"] = True
            loop.create_task(_stop(app))

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


async def _stop(app: Any) -> None:
    try:
        # Granian writes a WebSocket's close frame once its handler has returned: wait for the handlers (bounded),
        # then give the server's own task a moment to write the frame before the server is stopped.
        await app.begin_shutdown(wait=STOP_GRACE)
        await asyncio.sleep(0.05)
    except Exception:  # a failing close must never keep the worker from stopping
        app.logger.exception("shutdown: closing the open WebSockets failed")
    finally:
        signal.raise_signal(signal.SIGINT)  # Granian's own handler: the worker stops as it would have on SIGTERM
