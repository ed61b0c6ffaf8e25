"""The static-file benchmark app: ``StaticFileMiddleware(BENCH_STATIC_DIR, url_prefix="/static")``.

The runner writes the files into a temporary directory and passes it in ``BENCH_STATIC_DIR``.
"""

from __future__ import annotations

import os

from gobstopper import Gobstopper
from gobstopper.middleware.static import StaticFileMiddleware

app = Gobstopper(__name__)
app.add_middleware(StaticFileMiddleware(os.environ["BENCH_STATIC_DIR"], url_prefix="/static"), priority=1000)
