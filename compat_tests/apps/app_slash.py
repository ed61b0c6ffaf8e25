"""slash_policy add_slash / remove_slash: 308 redirects that never point to another host."""

from __future__ import annotations

from gobstopper import Gobstopper

add_app = Gobstopper("slash_add", debug=False, slash_policy="add_slash")


@add_app.get("/")
async def add_root(request):
    return {"root": True}


@add_app.get("/docs/")
async def add_docs(request):
    return {"docs": True}


@add_app.post("/form/")
async def add_form(request):
    return {"posted": (await request.get_data()).decode()}


@add_app.get("/docs/<int:n>/")
async def add_doc(request, n):
    return {"doc": n}


@add_app.get("/any/<path:rest>/")
async def add_any(request, rest):
    return {"rest": rest}


@add_app.get("/<path:rest>/")
async def add_catch_all(request, rest):
    # Would match "//evil.example/x/" if the router let it: the redirect must still stay on this host.
    return {"catch_all": rest}


remove_app = Gobstopper("slash_remove", debug=False, slash_policy="remove_slash")


@remove_app.get("/")
async def remove_root(request):
    return {"root": True}


@remove_app.get("/docs")
async def remove_docs(request):
    return {"docs": True}


@remove_app.get("/docs/<int:n>")
async def remove_doc(request, n):
    return {"doc": n}


@remove_app.get("/evil.example/x")
async def remove_evil(request):
    # "//evil.example/x/" minus its slash is "//evil.example/x": if the router collapses slashes it lands here,
    # and the redirect must then say "/evil.example/x", never "//evil.example/x". (No catch-all here: a
    # <path:...> route would also match "/docs/" and no redirect would ever happen.)
    return {"evil_route": True}
