"""Log in and out with server-side sessions, CSRF protection and notifications.

Run it with ``gobstopper run login:app`` (or ``uvicorn login:app``) from this directory and open /login
(user ``ada``, password ``lovelace``). Set ``SECRET_KEY`` in production; with several workers use
``AsyncRedisSessionStorage`` or ``PostgresSessionStorage`` instead of the in-memory store.
"""

from __future__ import annotations

import hmac
import html
import os

from gobstopper import Gobstopper, redirect
from gobstopper.http.notifications import get_notifications, notification
from gobstopper.middleware import SecurityMiddleware
from gobstopper.sessions import MemorySessionStorage

app = Gobstopper(__name__)
security = SecurityMiddleware(
    secret_key=os.environ.get("SECRET_KEY", "dev-only-secret-key-change-me-0123456789"),
    session_storage=MemorySessionStorage(),
    debug=True,
)
app.add_middleware(security, priority=1000)

USERS = {"ada": "lovelace"}


@app.get("/login")
async def login_form(request):
    token = request.csrf_token  # made on first read, in this session
    messages = "".join(f"<p>{html.escape(m)}</p>" for m in get_notifications(request))
    return (
        f"<!doctype html><title>Log in</title>{messages}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf_token" value="{token}">'
        '<input name="username"> <input name="password" type="password"> <button>Log in</button></form>'
    )


@app.post("/login")
async def login(request):
    form = await request.form()
    username = (form.get("username") or [""])[0]
    password = (form.get("password") or [""])[0]
    expected = USERS.get(username)
    if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
        notification(request, "Wrong user name or password.", "error")
        return redirect("/login", status=303)
    await security.regenerate_session_id(request)  # a new id at login: no session fixation
    request.session["user"] = username
    notification(request, f"Welcome, {username}!", "success")
    return redirect("/me", status=303)


@app.get("/me")
async def me(request):
    user = request.session.get("user")
    if user is None:
        return {"error": "not logged in"}, 401
    return {"user": user, "csrf_token": request.csrf_token, "notifications": get_notifications(request)}


@app.post("/logout")
async def logout(request):
    await security.destroy_session(request)  # deletes the record and expires the cookie
    return redirect("/login", status=303)
