"""Text from the wire, echoed back as the app decoded it (issue 11, item 8): path, query, forms, cookies."""

from __future__ import annotations

from gobstopper import Gobstopper

app = Gobstopper(__name__)


@app.get("/echo/<path:rest>")
async def echo(request, rest):
    return {"path": request.path, "rest": rest, "args": request.args, "cookies": request.cookies}


@app.post("/form")
async def form(request):
    fields = await request.form()
    files = await request.get_files()
    return {"fields": fields, "files": {name: f.filename for name, f in files.items()}}
