"""The adapters' SIGTERM hand-over under a Granian worker (``adapters/_signals.py``), in-process.

A Granian worker registers one handler for SIGTERM and SIGINT on its event loop; the adapter puts its own on
SIGTERM, runs ``app.begin_shutdown()`` and then raises SIGINT so that Granian's handler stops the worker. The real
servers are in ``compat_tests/test_compat_shutdown.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal

import granian  # noqa: F401 - the hand-over only happens in a process where Granian runs

from gobstopper import Gobstopper
from gobstopper.adapters._signals import take_over_sigterm


def test_sigterm_closes_long_lived_connections_then_hands_over_to_the_servers_handler() -> None:
    app = Gobstopper(__name__)
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()
    order: list[str] = []

    def server_handler() -> None:  # what Granian registers for both signals
        order.append(f"server stop (app serving: {app._dispatcher.serving})")
        stopped.set()

    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server_handler)
        loop.run_until_complete(app.startup())
        assert take_over_sigterm(app, loop)

        async def run() -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stopped.wait(), 10)

        loop.run_until_complete(run())
        assert order == ["server stop (app serving: False)"]  # the app stopped admitting first
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        loop.close()


def test_no_hand_over_when_the_loop_does_not_own_the_signals() -> None:
    """uvicorn installs its handlers with signal.signal, in-process clients install none: nothing changes."""
    app = Gobstopper(__name__)
    loop = asyncio.new_event_loop()
    try:
        before = signal.getsignal(signal.SIGTERM)
        assert not take_over_sigterm(app, loop)
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        loop.close()
