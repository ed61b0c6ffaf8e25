"""Every name the reference documents as importable, and an app that uses them the way the reference does.

The names were collected from ``/work/shared/reference/`` (README, PyPI page, app-core guide, API reference):
every ``from gobstopper... import ...``, every ``import gobstopper...`` and every dotted ``gobstopper.x.y.Name``
(class and function headings of the API reference, "see also" lines), plus the bare names the app-core guide
lists as built-in middleware. Each one is in exactly one table:

- :data:`SUPPORTED`: must import, now (``tests/test_reference_names.py``, and ``/names`` below in every server);
- :data:`NOT_PROVIDED`: deliberately absent, with the reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from gobstopper import Gobstopper
from gobstopper.middleware import StaticMiddleware  # the app-core guide's name for the static middleware

#: module -> names the reference imports from it or documents in it ("" alone: the module itself).
SUPPORTED: dict[str, tuple[str, ...]] = {
    "gobstopper": (
        "FileStorage",
        "Gobstopper",
        "Request",
        "abort",
        "jsonify",
        "make_response",
        "notification",
        "secure_filename",
        "send_from_directory",
        "should_run_background_workers",
    ),
    "gobstopper.cache": (),  # "gobstopper.cache with L1 memory + optional L2 ..." (PyPI page)
    "gobstopper.core.app": ("Gobstopper",),
    "gobstopper.core.blueprint": ("Blueprint",),
    "gobstopper.http": ("Response", "redirect"),
    "gobstopper.http.errors": ("RequestTooLarge", "UnsupportedMediaType"),
    "gobstopper.http.helpers": ("jsonify", "send_file", "stream_template"),
    "gobstopper.http.multipart": ("parse_multipart",),
    "gobstopper.http.request": ("Request",),
    "gobstopper.http.response": ("FileResponse", "JSONResponse", "Response", "StreamResponse", "redirect"),
    "gobstopper.middleware": (
        "CORSMiddleware",
        "HybridStaticMiddleware",  # API reference, StaticFileMiddleware notes
        "RustStaticMiddleware",  # app-core guide "Built-in Middleware", API reference
        "SecurityMiddleware",
        "StaticFileMiddleware",
        "StaticMiddleware",  # app-core guide "Built-in Middleware"
    ),
    "gobstopper.middleware.cors": ("CORSMiddleware",),
    "gobstopper.middleware.security": ("SecurityMiddleware",),
    "gobstopper.middleware.static": ("StaticFileMiddleware", "StaticMiddleware"),
    "gobstopper.sessions.redis_storage": ("AsyncRedisSessionStorage",),
    "gobstopper.sessions.storage": (
        "AsyncBaseSessionStorage",
        "BaseSessionStorage",
        "FileSessionStorage",
        "MemorySessionStorage",
        "maybe_await",
    ),
    "gobstopper.utils.idempotency": ("get_idempotent", "remember_idempotency", "use_idempotency"),
    "gobstopper.utils.rate_limiter": ("RateLimiter", "TokenBucketLimiter", "rate_limit"),
    "gobstopper.websocket": ("WebSocketManager",),
    "gobstopper.templates.engine": ("TemplateEngine",),
    "gobstopper.http.sse": ("SSEStream", "format_sse"),
    "gobstopper.extensions.datastar": ("Datastar", "datastar_response"),
    "gobstopper.tasks.models": ("TaskInfo", "TaskPriority", "TaskStatus"),
    "gobstopper.tasks.queue": ("NoopStorage", "TaskPriority", "TaskQueue"),
    "gobstopper.tasks.storage": ("TaskStorage",),
    "gobstopper.extensions.openapi": ("attach_openapi", "attach_openapi_blueprint"),
    "gobstopper.websocket.connection": ("WebSocket",),
    "gobstopper.websocket.manager": ("WebSocketManager",),
}

#: (module, name) -> why it is not provided.
NOT_PROVIDED: dict[tuple[str, str], str] = {
    ("gobstopper._core", ""): (
        "the reference's compiled module (README's diagnostic one-liner); here the native code is the separate, "
        "optional distribution gobstopper_rs (docs/design.md §1, docs/native.md), checked with "
        "`python -c 'import gobstopper_rs'`"
    ),
}


def importable(module: str, name: str) -> bool:
    """Whether ``from module import name`` works (``name`` "": ``import module``)."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return not name or hasattr(mod, name)


def missing_supported() -> list[str]:
    """Supported names that do not import, as ``module:name``."""
    out = []
    for module, names in SUPPORTED.items():
        for name in names or ("",):
            if not importable(module, name):
                out.append(f"{module}:{name}")
    return out


STATIC = Path(__file__).resolve().parent / "static"

app = Gobstopper(__name__)
app.add_middleware(StaticMiddleware(STATIC, url_prefix="/static"), priority=1000)


@app.get("/names")
async def names(request):
    """What the server process itself can import."""
    return {"missing": missing_supported()}
