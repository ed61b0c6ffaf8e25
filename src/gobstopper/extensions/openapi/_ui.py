"""The documentation pages (Swagger UI, ReDoc): HTML shells, the package files they load, and their CSP.

Nothing is fetched from a CDN. The UIs' released files come from two PyPI packages (the ``openapi`` extra):

* ``swagger-ui-bundle-v2`` (Apache-2.0; the Connexion maintainers' package of the Swagger UI dist, kept current:
  Swagger UI 5 reads OpenAPI 3.1), import name ``swagger_ui_bundle``;
* ``openapi-ui-bundles`` (Apache-2.0; ReDoc 2's ``redoc.standalone.js``, which reads OpenAPI 3.1).

The pages carry no inline script: Swagger UI is started by this package's ``static/swagger-init.js``, which reads
the document's URL from a ``data-`` attribute, and ReDoc starts itself from its ``<redoc spec-url>`` element. So
``script-src 'self'`` holds for both. ReDoc's styling library injects ``<style>`` elements at run time, which
cannot carry a hash, so its page alone allows ``style-src 'unsafe-inline'`` (styles, never scripts); its search
runs in a Web Worker made from a ``blob:`` URL, hence ``worker-src blob:``.
"""

from __future__ import annotations

import html
import importlib
import re
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"

_COMMON_CSP = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Content-Security-Policy of the Swagger UI page.
SWAGGER_CSP = _COMMON_CSP + "; style-src 'self'"
#: Content-Security-Policy of the ReDoc page (see the module docstring for the two relaxations).
REDOC_CSP = _COMMON_CSP + "; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:"

#: Headers every docs answer carries.
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def swagger_files() -> dict[str, Path] | None:
    """Swagger UI's files by the name they are served under, or ``None`` when the package is not installed
    (or is the old ``swagger-ui-bundle``, whose Swagger UI 4 cannot read OpenAPI 3.1)."""
    try:
        module: Any = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    root = Path(str(getattr(module, "swagger_ui_path", "")))
    match = re.fullmatch(r"swagger-ui-(\d+)\..*", root.name)
    if match is None or int(match.group(1)) < 5 or not (root / "swagger-ui-bundle.js").is_file():
        return None
    files = {
        name: root / name
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "oauth2-redirect.html")
    }
    files["oauth2-redirect.js"] = root / "oauth2-redirect.js"
    files["swagger-init.js"] = STATIC / "swagger-init.js"
    return {name: path for name, path in files.items() if path.is_file()}


def redoc_files() -> dict[str, Path] | None:
    """ReDoc's file by the name it is served under, or ``None`` when the package is not installed."""
    try:
        module: Any = importlib.import_module("openapi_ui_bundles.redoc")
    except ImportError:
        return None
    path = Path(str(module.static_path)) / "redoc.standalone.js"
    return {"redoc.standalone.js": path, "redoc.css": STATIC / "redoc.css"} if path.is_file() else None


def swagger_page(title: str, spec_url: str, assets: str) -> str:
    """The Swagger UI page for the document at ``spec_url``, loading its files from ``assets``."""
    t, u, a = html.escape(title), html.escape(spec_url), html.escape(assets)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} - Swagger UI</title>
<link rel="stylesheet" href="{a}/swagger-ui.css">
<link rel="icon" type="image/png" href="{a}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-spec-url="{u}" data-oauth2-redirect-url="{a}/oauth2-redirect.html"></div>
<script src="{a}/swagger-ui-bundle.js"></script>
<script src="{a}/swagger-init.js"></script>
</body>
</html>
"""


def redoc_page(title: str, spec_url: str, assets: str) -> str:
    """The ReDoc page for the document at ``spec_url``, loading ReDoc from ``assets``."""
    t, u, a = html.escape(title), html.escape(spec_url), html.escape(assets)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} - ReDoc</title>
<link rel="stylesheet" href="{a}/redoc.css">
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="{u}"></redoc>
<script src="{a}/redoc.standalone.js"></script>
</body>
</html>
"""
