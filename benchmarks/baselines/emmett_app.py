"""Emmett with the same two routes and bodies as ``raw_rsgi.py``: the RSGI framework peer (an optional baseline).

Emmett is not a dependency of the project. ``benchmarks/run.py --peers emmett`` (or ``--emmett``) installs it into
its own virtualenv, ``benchmarks/.emmett-venv`` (gitignored), with the project's granian and uvloop versions, and
serves this app from there with the same granian command line as the other RSGI apps, from this folder::

    ../.emmett-venv/bin/python -m granian --interface rsgi --workers 1 --runtime-threads 1 emmett_app:app

The routes are written the way Emmett's documentation and its TechEmpower entry write them: ``@service.json`` on a
handler returning a ``dict``, and ``output="bytes"`` for plaintext (Emmett sends bytes as ``text/plain``), with
static-file handling off as in that entry. Emmett creates ``languages/``, ``logs/`` and ``static/`` folders in the
app's root path: that is ``BENCH_EMMETT_ROOT`` (run.py points it into the run's temporary directory), else a new
temporary directory, never this folder.
"""

from __future__ import annotations

import os
import tempfile

from emmett import App
from emmett.tools import service

app = App(__name__, root_path=os.environ.get("BENCH_EMMETT_ROOT") or tempfile.mkdtemp(prefix="emmett-bench-"))
app.config.handle_static = False


@app.route("/plaintext", output="bytes")
async def plaintext() -> bytes:
    """Return ``Hello, World!`` (``text/plain``)."""
    return b"Hello, World!"


@app.route("/json")
@service.json
async def json() -> dict[str, str]:
    """Return ``{"message": "Hello, World!"}`` as ``application/json``."""
    return {"message": "Hello, World!"}
