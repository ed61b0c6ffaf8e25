"""The hello-world app with a static folder mounted as well (``StaticFileMiddleware`` on ``/static``).

``benchmarks/instructions.py`` compares it with ``gobstopper_app`` on the non-static paths: a static folder must
cost a request elsewhere no more than one prefix comparison (issue 10's 3% budget).
"""

from __future__ import annotations

import os
import tempfile

from gobstopper.middleware.static import StaticFileMiddleware

from .gobstopper_app import app

_folder = os.environ.get("BENCH_STATIC_DIR") or tempfile.mkdtemp(prefix="gobstopper-bench-static-")
app.add_middleware(StaticFileMiddleware(_folder, url_prefix="/static"), priority=1000)
