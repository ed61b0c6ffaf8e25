"""OpenAPI 3.1 for Gobstopper apps, with Swagger UI and ReDoc served from package files (no CDN).

Every route is documented by default, from what the app already knows: path convertors, ``msgspec.Struct`` body
parameters, return annotations, the problem+json errors the framework sends, blueprints (tags) and docstrings.
Decorators add to or override that (``docs/openapi.md``).

Example:
    >>> from gobstopper.extensions.openapi import attach_openapi, attach_openapi_blueprint
    >>> attach_openapi(app, title="My API", version="0.5.0")
    >>> attach_openapi_blueprint(app, api_bp, path="/api/openapi.json")
"""

from .decorators import (
    deprecated,
    doc,
    exclude,
    param,
    query,
    request_body,
    request_example,
    response,
    response_example,
    security,
    stream,
    tags,
)
from .extension import OpenAPI, attach_openapi, attach_openapi_blueprint
from .generator import OpenAPIConfig, build_default_info, build_document

__all__ = [
    "OpenAPI",
    "OpenAPIConfig",
    "attach_openapi",
    "attach_openapi_blueprint",
    "build_default_info",
    "build_document",
    "deprecated",
    "doc",
    "exclude",
    "param",
    "query",
    "request_body",
    "request_example",
    "response",
    "response_example",
    "security",
    "stream",
    "tags",
]
