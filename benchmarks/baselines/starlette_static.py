"""Starlette's ``StaticFiles`` mounted at ``/static`` on ``BENCH_STATIC_DIR``: what users would otherwise pick."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

app = Starlette(routes=[Mount("/static", app=StaticFiles(directory=os.environ["BENCH_STATIC_DIR"]), name="static")])
