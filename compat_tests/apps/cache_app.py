"""The cache with a Redis L2 (GOBSTOPPER_CACHE_REDIS_URL), for the test that stops Redis under a real server."""

from __future__ import annotations

from gobstopper import Gobstopper
from gobstopper.cache import cached

app = Gobstopper(__name__)
cache = app.init_cache_from_env()
computed: list[str] = []


@app.get("/__compat_ready")
async def ready(request):
    return "ok"


@app.get("/value/<name>")
async def value(request, name: str):
    async def compute():
        computed.append(name)
        return {"name": name, "computed": len(computed)}

    return await cache.get_or_set(f"value:{name}", compute, ttl=60)


@app.get("/page")
@cached(ttl=60)
async def page(request):
    computed.append("page")
    return {"page": len(computed)}
