"""``request.csrf_token`` on a session that has no token yet (issue 11, item 7): made on first read."""

from __future__ import annotations

from gobstopper import Gobstopper
from gobstopper.middleware import SecurityMiddleware
from gobstopper.sessions import MemorySessionStorage

app = Gobstopper(__name__)
app.add_middleware(
    SecurityMiddleware(
        secret_key="csrf-first-read-0123456789abcdef", session_storage=MemorySessionStorage(), debug=True
    ),  # fmt: skip
    priority=1000,
)


@app.get("/login")
async def login_page(request):
    return {"csrf": request.csrf_token}


@app.get("/cold")
async def cold(request):
    return {"cold": True}


@app.post("/login")
async def login(request):
    return {"logged_in": True}
