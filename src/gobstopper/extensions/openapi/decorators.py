"""Opt-in decorators that add to or override what OpenAPI infers for a route.

Every decorator records metadata in the handler's ``__openapi__`` dict (the attribute the reference uses) and
returns the handler unchanged, so decorators can be stacked in any order, above or below ``@app.get(...)``.
``tags``, ``security``, ``deprecated``, ``exclude``, ``response`` and ``param`` also decorate a
:class:`~gobstopper.Blueprint`: its routes (and its children's) inherit them, and the route's own metadata wins.

The names and signatures of ``doc``, ``response``, ``request_body``, ``param`` and ``security`` are the
reference's (``gobstopper.extensions.openapi.decorators``); the others are this project's.

Example:
    >>> import msgspec
    >>> class User(msgspec.Struct):
    ...     id: int
    ...     name: str
    >>> @app.get("/users/<int:user_id>")
    ... @doc(summary="Get a user", tags=["Users"])
    ... @response(404, description="No such user")
    ... async def get_user(request, user_id: int) -> User:
    ...     return User(user_id, "Ada")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = [
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

T = TypeVar("T")

#: The attribute holding a handler's (or blueprint's) OpenAPI metadata.
META = "__openapi__"


def _owner(target: Any) -> Any:
    # A bound method cannot take attributes; its function can (and is shared by every instance).
    return getattr(target, "__func__", target)


def metadata(target: Any) -> dict[str, Any]:
    """The OpenAPI metadata recorded on ``target`` (a handler or a blueprint); ``{}`` when there is none."""
    meta = getattr(_owner(target), META, None)
    return meta if isinstance(meta, dict) else {}


def _ensure(target: Any) -> dict[str, Any]:
    owner = _owner(target)
    meta = getattr(owner, META, None)
    if not isinstance(meta, dict):
        meta = {}
        setattr(owner, META, meta)
    return meta


def _field_name(name: str) -> str:
    # Python keywords cannot hold a dash: ``x_internal=True`` is the specification extension ``x-internal``.
    return "x-" + name[2:].replace("_", "-") if name.startswith("x_") else name


def doc(**fields: Any) -> Callable[[T], T]:
    """Set Operation Object fields: ``summary``, ``description``, ``tags``, ``operationId``, ``deprecated``,
    ``externalDocs``, ``servers``, ``callbacks`` and extensions (``x_name=...`` becomes ``x-name``).

    Fields given here replace the inferred ones (the docstring's summary and description, the blueprint tag, the
    route name as ``operationId``). Applying ``doc`` twice merges the fields.
    """

    def decorator(func: T) -> T:
        meta = _ensure(func)
        meta.setdefault("doc", {}).update({_field_name(k): v for k, v in fields.items()})
        if "operationId" in fields:
            meta["operationId"] = fields["operationId"]
        return func

    return decorator


def response(
    status: int | str,
    description: str | None = None,
    *,
    model: Any | None = None,
    media_types: list[str] | None = None,
    content: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
) -> Callable[[T], T]:
    """Document the response for ``status`` (an int, ``"2XX"`` or ``"default"``), replacing an inferred one.

    Args:
        status: the HTTP status the response is for.
        description: the response's description (the status phrase when omitted).
        model: a type msgspec can describe (``msgspec.Struct``, ``list[Struct]``, ``dict[str, int]``...): its
            JSON Schema becomes the content's schema, shared under ``components/schemas``.
        media_types: the media types ``model`` is sent as (``["application/json"]`` by default).
        content: a ready Content map (OpenAPI's ``content``), used when ``model`` is not given.
        headers, links: the Response Object's ``headers`` and ``links``.

    Declaring any 2xx response replaces the success response inferred from the return annotation.
    """
    code = str(status)

    def decorator(func: T) -> T:
        entry: dict[str, Any] = {}
        if description is not None:
            entry["description"] = description
        if model is not None:
            entry["__model__"] = model
            if media_types is not None:
                entry["__media_types__"] = list(media_types)
        elif content is not None:
            entry["content"] = content
        if headers:
            entry["headers"] = headers
        if links:
            entry["links"] = links
        _ensure(func).setdefault("responses", {}).setdefault(code, {}).update(entry)
        return func

    return decorator


def request_body(
    *,
    model: Any | None = None,
    media_types: list[str] | None = None,
    description: str | None = None,
    required: bool | None = None,
    content: dict[str, Any] | None = None,
) -> Callable[[T], T]:
    """Document the request body of a handler that reads it itself (``await request.json(Model)``...).

    A ``msgspec.Struct``-annotated handler parameter is documented without this decorator; given, it replaces
    the inferred body. ``model`` and ``media_types`` work as in :func:`response`.
    """

    def decorator(func: T) -> T:
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if required is not None:
            body["required"] = required
        if model is not None:
            body["__model__"] = model
            if media_types is not None:
                body["__media_types__"] = list(media_types)
        elif content is not None:
            body["content"] = content
        _ensure(func)["requestBody"] = body
        return func

    return decorator


def param(
    name: str,
    in_: str = "query",
    *,
    required: bool | None = None,
    description: str | None = None,
    schema: Any | None = None,
    **extra: Any,
) -> Callable[[T], T]:
    """Document one parameter (``in_`` is ``"query"``, ``"header"``, ``"cookie"`` or ``"path"``).

    ``schema`` is a Schema Object or a type msgspec can describe (``int``, ``list[str]``...). A parameter with the
    name and location of an inferred one replaces it. Other Parameter Object fields go in ``extra``
    (``deprecated=True``, ``example=...``).

    Raises:
        ValueError: ``in_`` is not one of the four locations.
    """
    if in_ not in ("query", "header", "cookie", "path"):
        raise ValueError(f"a parameter is in query, header, cookie or path, not {in_!r}")

    def decorator(func: T) -> T:
        entry: dict[str, Any] = {"name": name, "in": in_}
        if required is not None:
            entry["required"] = required
        if description is not None:
            entry["description"] = description
        if schema is not None:
            entry["schema"] = schema
        entry.update({_field_name(k): v for k, v in extra.items()})
        _ensure(func).setdefault("parameters", []).append(entry)
        return func

    return decorator


def query(model: Any) -> Callable[[T], T]:
    """Declare the query-string model a handler binds with ``request.bind(model, source="query")``.

    Each field of the ``msgspec.Struct`` becomes a query parameter (required when it has no default) and the
    operation documents the 422 the framework answers when the query does not fit the model.
    """

    def decorator(func: T) -> T:
        _ensure(func)["query"] = model
        return func

    return decorator


def security(*requirements: dict[str, list[str]] | str) -> Callable[[T], T]:
    """Security requirements for the operation (or every route of a blueprint).

    Each argument is a Security Requirement Object (``{"bearerAuth": []}``, ``{"oauth2": ["read"]}``) or the
    name of a scheme without scopes (``"bearerAuth"``); several arguments are alternatives (any one suffices).
    ``security()`` with no argument marks the operation public, overriding a document-wide requirement. The
    schemes themselves are declared with ``attach_openapi(..., security_schemes={...})``.
    """
    normalized: list[dict[str, list[str]]] = [{r: []} if isinstance(r, str) else dict(r) for r in requirements]

    def decorator(func: T) -> T:
        _ensure(func)["security"] = normalized
        return func

    return decorator


def tags(*names: str) -> Callable[[T], T]:
    """The operation's tags (or every route's of a blueprint), replacing the blueprint-name tag."""

    def decorator(func: T) -> T:
        _ensure(func).setdefault("doc", {})["tags"] = list(names)
        return func

    return decorator


@overload
def deprecated(func: T) -> T: ...
@overload
def deprecated(func: None = None) -> Callable[[T], T]: ...
def deprecated(func: Any = None) -> Any:
    """Mark the operation (or every route of a blueprint) deprecated; use as ``@deprecated`` or ``@deprecated()``."""

    def decorator(target: T) -> T:
        _ensure(target).setdefault("doc", {})["deprecated"] = True
        return target

    return decorator if func is None else decorator(func)


@overload
def exclude(func: T) -> T: ...
@overload
def exclude(func: None = None) -> Callable[[T], T]: ...
def exclude(func: Any = None) -> Any:
    """Leave the route (or every route of a blueprint) out of the document; use as ``@exclude`` or ``@exclude()``."""

    def decorator(target: T) -> T:
        _ensure(target)["exclude"] = True
        return target

    return decorator if func is None else decorator(func)


def stream(
    media_type: str = "text/event-stream",
    *,
    schema: Any | None = None,
    description: str | None = None,
    status: int = 200,
) -> Callable[[T], T]:
    """Document a streamed response (a :class:`~gobstopper.StreamResponse`): server-sent events by default.

    OpenAPI 3.1 describes the stream as a whole: the content is ``media_type`` with ``schema`` (a string by
    default); a handler annotated ``-> StreamResponse`` without this decorator is documented as ``text/plain``.
    """

    def decorator(func: T) -> T:
        _ensure(func)["stream"] = {
            "media_type": media_type,
            "schema": schema,
            "description": description,
            "status": str(status),
        }
        return func

    return decorator


def request_example(value: Any, *, name: str | None = None, summary: str | None = None) -> Callable[[T], T]:
    """Add an example request body (an Example Object under each media type of the body); repeatable."""

    def decorator(func: T) -> T:
        _ensure(func).setdefault("request_examples", []).append((name, summary, value))
        return func

    return decorator


def response_example(
    status: int | str, value: Any, *, name: str | None = None, summary: str | None = None
) -> Callable[[T], T]:
    """Add an example body to the response for ``status`` (under each of its media types); repeatable."""

    def decorator(func: T) -> T:
        _ensure(func).setdefault("response_examples", []).append((str(status), name, summary, value))
        return func

    return decorator
