"""SecurityMiddleware with its defaults: which ``Server`` header goes out on each server (issue 17, row 39)."""

from __future__ import annotations

from gobstopper import Gobstopper
from gobstopper.middleware import SecurityMiddleware

app = Gobstopper(__name__)
app.add_middleware(SecurityMiddleware(secret_key="s" * 32, enable_csrf=False))


@app.get("/")
async def index(request):
    return {"ok": True}
