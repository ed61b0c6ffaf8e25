"""A server-rendered page with a form: Jinja2 templates, CSRF token from the template, notifications.

Run it with ``gobstopper run guestbook:app`` (or ``uvicorn guestbook:app``) from this directory and open /.
The form's hidden ``csrf_token`` comes from ``{{ csrf_token() }}`` in ``templates/guestbook.html``;
``SecurityMiddleware`` refuses a post without it (403). Everything a visitor types is escaped by the template.
"""

from __future__ import annotations

import os

from gobstopper import Gobstopper, MemorySessionStorage, SecurityMiddleware, notification, redirect

app = Gobstopper(__name__)
app.init_templates("templates")
app.add_middleware(
    SecurityMiddleware(
        secret_key=os.environ.get("SECRET_KEY", "dev-only-secret-key-change-me-0123456789"),
        session_storage=MemorySessionStorage(),
        debug=True,  # plain-http cookies for local runs; production keeps them Secure
    ),
    priority=1000,
)

ENTRIES: list[dict[str, str]] = []


@app.get("/")
async def index(request):
    return await app.render_template("guestbook.html", entries=ENTRIES)


@app.post("/sign")
async def sign(request):
    form = await request.form()
    name = (form.get("name") or [""])[0].strip()[:80]
    message = (form.get("message") or [""])[0].strip()[:500]
    if not name or not message:
        notification(request, "Both a name and a message, please.", "error")
    else:
        ENTRIES.append({"name": name, "message": message})
        notification(request, "Thanks for signing!", "success")
    return redirect(app.url_for("index"), status=303)
