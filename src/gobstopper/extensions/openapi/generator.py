"""The OpenAPI 3.1 document, built from route facts (``_facts``) and the decorators' metadata (``decorators``).

What is inferred, per route and method (``docs/openapi.md`` has the full table):

1. the path template and its parameters from the pattern's convertors (``<int:id>`` is ``{id}``, an integer);
2. the request body from a ``msgspec.Struct``-annotated handler parameter (JSON, plus the two form types when the
   model is flat), with the 400/413/415/422 problems the framework answers for it;
3. the success response from the return annotation (``Struct``, ``list[Struct]``, ``dict``, ``str``, ``bytes``,
   ``None``, ``JSONResponse``, ``StreamResponse``, unions of these);
4. tags from the innermost blueprint, summary and description from the docstring, ``operationId`` from the
   route name;
5. then the decorators' metadata: the blueprints' (outermost first), then the handler's, which wins.

WebSocket routes are not operations: they are listed under the document's ``x-websockets`` extension.
"""

from __future__ import annotations

import copy
import http
import logging
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ...http.response import FileResponse, JSONResponse, Response, StreamResponse
from ._facts import ParamFacts, RouteFacts
from ._schemas import (
    CAST_SCHEMAS,
    CONVERTOR_SCHEMAS,
    PROBLEM_SCHEMA,
    REF_PREFIX,
    VALIDATION_PROBLEM_SCHEMA,
    SchemaRegistry,
    is_flat_struct,
    is_struct,
    is_union,
)
from .decorators import metadata

__all__ = ["OpenAPIConfig", "build_document", "build_default_info"]

logger = logging.getLogger("gobstopper.openapi")

#: The methods an operation can have in a Path Item Object (OpenAPI 3.1 §4.8.9).
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Methods whose declared body size the framework checks before the handler runs (``_pipeline.BODY_METHODS``).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_PLACEHOLDER = re.compile(r"<(?:[A-Za-z_][A-Za-z0-9_]*:)?([A-Za-z_][A-Za-z0-9_]*)>")

#: The framework's own error answers, as Response Objects under ``components/responses``.
ERROR_RESPONSES: dict[str, tuple[int, str, str]] = {
    # name: (status, description, schema name key)
    "BadRequest": (400, "Bad request: undecodable body or a path parameter that does not convert.", "problem"),
    "NotFound": (404, "Not found.", "problem"),
    "ContentTooLarge": (413, "The request body is over the size limit.", "problem"),
    "UnsupportedMediaType": (415, "The body's Content-Type is not one this operation accepts.", "problem"),
    "ValidationFailed": (422, "The body or query does not fit the model; `errors` lists each field.", "validation"),
}


def build_default_info(
    title: str,
    version: str,
    description: str | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Info Object (OpenAPI 3.1 §4.8.2) from its fields; absent ones are left out."""
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    if terms_of_service:
        info["termsOfService"] = terms_of_service
    if contact:
        info["contact"] = contact
    if license:
        info["license"] = license
    return info


@dataclass
class OpenAPIConfig:
    """Everything about a document that does not come from the routes.

    Attributes:
        info: the Info Object (:func:`build_default_info`).
        openapi: the OpenAPI version written in the document (3.1.x: the schemas are JSON Schema 2020-12).
        servers, tags, external_docs, security: the document's Server list, Tag list, External Documentation and
            default Security Requirements.
        components: Components merged into the generated ones (the user's win on a name clash).
        security_schemes: Security Scheme Objects by name (``components/securitySchemes``).
        include_mode: ``"auto"`` (every route) or ``"opt_in"`` (only handlers with OpenAPI decorators, as the
            reference did).
        include_blueprints: only the routes registered through one of these blueprints (any depth).
        include_prefixes: only the routes whose path starts with one of these.
        exclude: handlers never documented (the docs routes themselves).
    """

    info: dict[str, Any]
    openapi: str = "3.1.0"
    servers: list[dict[str, Any]] | None = None
    tags: list[dict[str, Any]] | None = None
    external_docs: dict[str, Any] | None = None
    components: dict[str, Any] | None = None
    security: list[dict[str, Any]] | None = None
    security_schemes: dict[str, Any] | None = None
    include_mode: str = "auto"
    include_blueprints: list[Any] = field(default_factory=list)
    include_prefixes: list[str] = field(default_factory=list)
    exclude: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.include_mode not in ("auto", "opt_in"):
            raise ValueError(f"include_mode must be 'auto' or 'opt_in', not {self.include_mode!r}")
        if not re.fullmatch(r"3\.1\.\d+", self.openapi):
            raise ValueError(
                f"this generator writes OpenAPI 3.1 (JSON Schema 2020-12 schemas), not {self.openapi!r};"
                " pass openapi='3.1.0' or leave it out"
            )


def build_document(facts: Iterable[RouteFacts], config: OpenAPIConfig) -> dict[str, Any]:
    """The OpenAPI document for ``facts`` (see the module docstring for what is inferred).

    Two routes whose patterns differ only in their parameter names share one path template (OpenAPI allows one);
    a second route for the same template and method is left out with a warning (the router would never reach it
    for values both convertors accept).
    """
    return _Builder(config).build(list(facts))


class _Builder:
    def __init__(self, config: OpenAPIConfig) -> None:
        self.config = config
        self.registry = SchemaRegistry()
        self.paths: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, tuple[str, tuple[str, ...]]] = {}  # erased pattern -> (template, names)
        self.operation_ids: set[str] = set()
        self.used_errors: set[str] = set()
        self.websockets: list[dict[str, Any]] = []
        self.names = {"problem": "Problem", "validation": "ValidationProblem"}
        self.problem_refs: list[tuple[dict[str, Any], str]] = []

    # -- the document ------------------------------------------------------------------------------------------

    def build(self, facts: list[RouteFacts]) -> dict[str, Any]:
        for fact in facts:
            if not self._included(fact):
                continue
            if fact.websocket:
                self._websocket(fact)
                continue
            self._route(fact)
        schemas = self.registry.resolve()
        doc: dict[str, Any] = {"openapi": self.config.openapi, "info": copy.deepcopy(self.config.info)}
        if self.config.servers:
            doc["servers"] = copy.deepcopy(self.config.servers)
        doc["paths"] = self.paths
        components = self._components(schemas)
        if components:
            doc["components"] = components
        if self.config.security:
            doc["security"] = copy.deepcopy(self.config.security)
        if self.config.tags:
            doc["tags"] = copy.deepcopy(self.config.tags)
        if self.config.external_docs:
            doc["externalDocs"] = copy.deepcopy(self.config.external_docs)
        if self.websockets:
            doc["x-websockets"] = self.websockets
        return doc

    def _components(self, schemas: dict[str, Any]) -> dict[str, Any]:
        components: dict[str, Any] = {}
        schemas = dict(schemas)
        if self.used_errors:
            components["responses"] = {name: self._error_response(name) for name in sorted(self.used_errors)}
        if self.problem_refs:
            # Named so they never replace a user's Struct called Problem.
            for key, base in (("problem", "Problem"), ("validation", "ValidationProblem")):
                name = base
                while name in schemas:
                    name = "Gobstopper" + name
                self.names[key] = name
            schemas[self.names["problem"]] = copy.deepcopy(PROBLEM_SCHEMA)
            if any(key == "validation" for _, key in self.problem_refs):
                validation = copy.deepcopy(VALIDATION_PROBLEM_SCHEMA)
                validation["allOf"][0]["$ref"] = REF_PREFIX + self.names["problem"]
                schemas[self.names["validation"]] = validation
            for ref, key in self.problem_refs:
                ref["$ref"] = REF_PREFIX + self.names[key]
        if schemas:
            components["schemas"] = schemas
        if self.config.security_schemes:
            components["securitySchemes"] = copy.deepcopy(self.config.security_schemes)
        for section, entries in (self.config.components or {}).items():
            if isinstance(entries, dict):
                components.setdefault(section, {}).update(copy.deepcopy(entries))
            else:
                components[section] = copy.deepcopy(entries)
        return components

    def _error_response(self, name: str) -> dict[str, Any]:
        _, description, schema_key = ERROR_RESPONSES[name]
        return {"description": description, "content": self._problem_content(schema_key)}

    def _problem_content(self, schema_key: str) -> dict[str, Any]:
        # The schema name is settled when the components are assembled (it must not clash with a user's Struct):
        # the $ref dicts handed out here are completed then.
        ref: dict[str, Any] = {}
        self.problem_refs.append((ref, schema_key))
        return {
            "application/problem+json": {"schema": ref},
            # Browsers (Accept: text/html) get an HTML page instead (gobstopper.http.problem.wants_html).
            "text/html": {"schema": {"type": "string"}},
        }

    def _included(self, fact: RouteFacts) -> bool:
        config = self.config
        if fact.handler in config.exclude:
            return False
        if any(metadata(bp).get("exclude") for bp in fact.blueprints) or metadata(fact.handler).get("exclude"):
            return False
        if config.include_mode == "opt_in" and not metadata(fact.handler):
            return False
        if config.include_blueprints and not any(
            bp is wanted for bp in fact.blueprints for wanted in config.include_blueprints
        ):
            return False
        if config.include_prefixes and not any(fact.pattern.startswith(p) for p in config.include_prefixes):
            return False
        return True

    def _websocket(self, fact: RouteFacts) -> None:
        template, _ = _template(fact.pattern, fact.params)
        entry: dict[str, Any] = {"path": template, "name": fact.name}
        summary, _ = _split_doc(fact.doc)
        if summary:
            entry["summary"] = summary
        self.websockets.append(entry)

    # -- one route ---------------------------------------------------------------------------------------------

    def _route(self, fact: RouteFacts) -> None:
        template, names = _template(fact.pattern, fact.params)
        erased = re.sub(r"\{[^}]*\}", "{}", template)
        params = fact.params
        known = self.templates.get(erased)
        if known is None:
            self.templates[erased] = (template, names)
        elif known[1] != names:
            # Same shape, other parameter names: OpenAPI sees one path; rename the parameters positionally.
            template, renamed = known
            params = tuple(
                ParamFacts(new, p.convertor, p.annotation, p.regex) for new, p in zip(renamed, fact.params, strict=True)
            )
        item = self.paths.setdefault(template, {})
        methods = [m for m in fact.methods if m.lower() in OPERATION_METHODS]
        if "GET" in methods and "HEAD" in methods:
            methods.remove("HEAD")  # HEAD is served by every GET route; documenting it twice adds nothing
        meta = _merged_meta(fact)
        for method in methods:
            key = method.lower()
            if key in item:
                logger.warning(
                    "openapi: %s %s (%s) is left out: %s already documents that method for %s",
                    method,
                    fact.pattern,
                    fact.name,
                    item[key].get("operationId", "another route"),
                    template,
                )
                continue
            item[key] = self._operation(fact, params, method, meta, many=len(methods) > 1)
        if not item:
            del self.paths[template]

    def _operation(
        self, fact: RouteFacts, params: tuple[ParamFacts, ...], method: str, meta: dict[str, Any], many: bool
    ) -> dict[str, Any]:
        op: dict[str, Any] = {}
        doc_fields = dict(meta.get("doc", {}))
        tags = doc_fields.pop("tags", None)
        if tags is None and fact.blueprints:
            tags = [fact.blueprints[-1].name]
        if tags:
            op["tags"] = list(tags)
        summary, description = _split_doc(fact.doc)
        if summary:
            op["summary"] = summary
        if description:
            op["description"] = description
        op["operationId"] = self._operation_id(meta.get("operationId") or _default_operation_id(fact, method, many))
        doc_fields.pop("operationId", None)

        responses: dict[str, Any] = {}
        parameters = self._path_parameters(params, responses)
        parameters = _merge_parameters(parameters, meta.get("parameters", ()), self.registry)
        if parameters:
            op["parameters"] = parameters
        query_model = meta.get("query")
        if query_model is not None:
            self._query_parameters(query_model, op)  # completes the parameters once the schemas are resolved
            self._error(responses, "422", "ValidationFailed")
        else:
            _default_schemas(parameters)

        body = self._request_body(fact, meta, responses)
        if body is not None:
            op["requestBody"] = body
        if method in BODY_METHODS:
            self._error(responses, "413", "ContentTooLarge")

        declared = meta.get("responses", {})
        if not any(code.startswith("2") or code.upper() == "2XX" for code in declared):
            responses.update(self._success(fact, meta))
        for code, entry in declared.items():
            responses[code] = self._declared_response(code, entry)
        self._examples(meta, op, responses, body)
        op["responses"] = dict(sorted(responses.items()))

        if "security" in meta:
            op["security"] = copy.deepcopy(meta["security"])
        op.update(doc_fields)  # explicit fields win over everything inferred
        return op

    def _operation_id(self, base: str) -> str:
        candidate = re.sub(r"[^A-Za-z0-9_.\-]", "_", base)
        unique, n = candidate, 2
        while unique in self.operation_ids:
            unique, n = f"{candidate}_{n}", n + 1
        self.operation_ids.add(unique)
        return unique

    def _error(self, responses: dict[str, Any], code: str, name: str) -> None:
        self.used_errors.add(name)
        responses.setdefault(code, {"$ref": "#/components/responses/" + name})

    def _path_parameters(self, params: tuple[ParamFacts, ...], responses: dict[str, Any]) -> list[dict[str, Any]]:
        parameters = []
        for p in params:
            schema = _param_schema(p)
            if p.convertor == "date" or (p.convertor == "str" and p.annotation in CAST_SCHEMAS):
                # A value of the right shape can still fail to convert (2024-02-30, "x" for an int): 400.
                self._error(responses, "400", "BadRequest")
            parameters.append({"name": p.name, "in": "path", "required": True, "schema": schema})
        return parameters

    def _query_parameters(self, model: Any, op: dict[str, Any]) -> None:
        """Add one query parameter per field of ``model`` to ``op`` once the schemas are resolved; a parameter
        declared with ``@param`` under the same name wins."""

        def fill(schema: dict[str, Any], components: dict[str, Any]) -> None:
            target = SchemaRegistry.target(schema, components)
            required = set(target.get("required", ()))
            parameters = op.setdefault("parameters", [])
            declared = {(p["name"], p["in"]): i for i, p in enumerate(parameters)}
            for name, prop in target.get("properties", {}).items():
                entry: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
                if prop.get("type") == "array":
                    entry["style"], entry["explode"] = "form", True  # ?tag=a&tag=b
                index = declared.get((name, "query"))
                if index is None:
                    parameters.append(entry)
                else:  # a @param for a field of the model adds to (and overrides) what the model says
                    parameters[index] = {**entry, **parameters[index]}
            _default_schemas(parameters)

        if not self.registry.when_resolved(model, fill):  # logged by the registry; the route stays documented
            _default_schemas(op.get("parameters", []))

    def _request_body(self, fact: RouteFacts, meta: dict[str, Any], responses: dict[str, Any]) -> dict[str, Any] | None:
        declared = meta.get("requestBody")
        if declared is not None:
            body = {k: v for k, v in declared.items() if not k.startswith("__")}
            model = declared.get("__model__")
            if model is not None:
                schema = self.registry.schema(model)
                types = declared.get("__media_types__") or [JSON]
                body["content"] = {t: {"schema": schema} for t in types}
            body.setdefault("content", {"*/*": {}})
            return body
        if fact.body is None:
            return None
        _, model = fact.body
        schema = self.registry.schema(model)
        content: dict[str, Any] = {JSON: {"schema": schema}}
        if is_flat_struct(model):
            for media_type in FORM_TYPES:
                content[media_type] = {"schema": schema}
        self._error(responses, "400", "BadRequest")
        self._error(responses, "415", "UnsupportedMediaType")
        self._error(responses, "422", "ValidationFailed")
        return {"required": True, "content": content}

    def _success(self, fact: RouteFacts, meta: dict[str, Any]) -> dict[str, Any]:
        stream = meta.get("stream")
        if stream is not None:
            data = self.registry.schema(stream["schema"]) if stream["schema"] is not None else None
            if stream["media_type"] == "text/event-stream":
                schema = _sse_event_schema(data)
            else:
                schema = data if data is not None else {"type": "string"}
            default = "A stream of server-sent events." if stream["media_type"] == "text/event-stream" else "A stream."
            return {
                stream["status"]: {
                    "description": stream["description"] or default,
                    "content": {stream["media_type"]: {"schema": schema}},
                }
            }
        return self._from_annotation(fact.returns)

    def _from_annotation(self, annotation: Any) -> dict[str, Any]:
        members = typing.get_args(annotation) if is_union(annotation) else (annotation,)
        content: dict[str, Any] = {}
        json_types: list[Any] = []
        no_content = False
        for member in members:
            if member is None or member is type(None):
                no_content = True
            elif member is str:
                content["text/html"] = {"schema": {"type": "string"}}
            elif member is bytes:
                content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
            elif isinstance(member, type) and issubclass(member, Response):
                if issubclass(member, JSONResponse):
                    content.setdefault(JSON, {})
                elif issubclass(member, StreamResponse):
                    content.setdefault("text/plain", {"schema": {"type": "string"}})
                elif issubclass(member, FileResponse):
                    content.setdefault("application/octet-stream", {})
            elif _is_json_type(member):
                json_types.append(member)
        if json_types:
            target = json_types[0] if len(json_types) == 1 else typing.Union[tuple(json_types)]  # noqa: UP007
            content[JSON] = {"schema": self.registry.schema(target)}
        responses: dict[str, Any] = {}
        if content or not no_content:
            entry: dict[str, Any] = {"description": "Successful response."}
            if content:
                entry["content"] = content
            responses["200"] = entry
        if no_content:
            responses["204"] = {"description": "No content."}
        return responses

    def _declared_response(self, code: str, entry: dict[str, Any]) -> dict[str, Any]:
        response = {k: copy.deepcopy(v) for k, v in entry.items() if not k.startswith("__")}
        response.setdefault("description", _phrase(code))
        model = entry.get("__model__")
        if model is not None:
            schema = self.registry.schema(model)
            types = entry.get("__media_types__") or [JSON]
            response["content"] = {t: {"schema": schema} for t in types}
        elif "content" not in response and code[:1] in ("4", "5"):
            # An error declared without a body is one the handler raises (abort(404), HTTPException): the
            # framework renders it as a problem (gobstopper.http.problem).
            response["content"] = self._problem_content("problem")
        return response

    def _examples(
        self, meta: dict[str, Any], op: dict[str, Any], responses: dict[str, Any], body: dict[str, Any] | None
    ) -> None:
        for i, (name, summary, value) in enumerate(meta.get("request_examples", ())):
            if body is None:
                raise ValueError(f"request_example() on {op['operationId']!r}, which has no request body")
            for media in body.get("content", {}).values():
                media.setdefault("examples", {})[name or f"example{i + 1}"] = _example(summary, value)
        for i, (code, name, summary, value) in enumerate(meta.get("response_examples", ())):
            response = responses.get(code)
            if response is None or "$ref" in response or not response.get("content"):
                raise ValueError(f"response_example({code}) on {op['operationId']!r}: no {code} response with content")
            for media in response["content"].values():
                media.setdefault("examples", {})[name or f"example{i + 1}"] = _example(summary, value)


def _sse_event_schema(data: dict[str, Any] | None) -> dict[str, Any]:
    """The schema of one server-sent event (WHATWG HTML §9.2.6 fields), as OpenAPI 3.2's ``itemSchema`` and
    schemathesis read a ``text/event-stream`` schema; ``data`` is JSON matching ``data`` when given."""
    data_schema: dict[str, Any] = {"type": "string"}
    if data is not None:
        data_schema.update({"contentMediaType": "application/json", "contentSchema": data})
    return {
        "type": "object",
        "description": "One event of the stream; the body is a sequence of them.",
        "properties": {
            "data": data_schema,
            "event": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
    }


def _example(summary: str | None, value: Any) -> dict[str, Any]:
    example: dict[str, Any] = {"value": msgspec.to_builtins(value)}
    if summary:
        example["summary"] = summary
    return example


def _merged_meta(fact: RouteFacts) -> dict[str, Any]:
    """The blueprints' metadata (outermost first), then the handler's: later ones override earlier ones."""
    merged: dict[str, Any] = {}
    for source in (*fact.blueprints, fact.handler):
        meta = metadata(source)
        for key, value in meta.items():
            if key == "doc":
                merged.setdefault("doc", {}).update(value)
            elif key == "responses":
                responses = merged.setdefault("responses", {})
                for code, entry in value.items():
                    responses[code] = {**responses.get(code, {}), **entry}
            elif key in ("parameters", "request_examples", "response_examples"):
                merged[key] = [*merged.get(key, ()), *value]
            else:
                merged[key] = value
    return merged


def _merge_parameters(
    inferred: list[dict[str, Any]], declared: Iterable[dict[str, Any]], registry: SchemaRegistry
) -> list[dict[str, Any]]:
    """Inferred parameters, with declared ones replacing those of the same name and location (else appended)."""
    result = inferred
    for entry in declared:
        entry = dict(entry)
        schema = entry.get("schema")
        if schema is not None and not isinstance(schema, dict):
            entry["schema"] = registry.schema(schema)
        if entry["in"] == "path":
            entry["required"] = True
        key = (entry["name"], entry["in"])
        for i, existing in enumerate(result):
            if (existing["name"], existing["in"]) == key:
                result[i] = {**existing, **entry}
                break
        else:
            result.append(entry)
    return result


def _default_schemas(parameters: list[dict[str, Any]]) -> None:
    # A Parameter Object needs a schema (or content); a @param given neither takes a string.
    for entry in parameters:
        if "schema" not in entry and "content" not in entry:
            entry["schema"] = {"type": "string"}


def _param_schema(p: ParamFacts) -> dict[str, Any]:
    if p.convertor == "str" and p.annotation in CAST_SCHEMAS:
        return copy.deepcopy(CAST_SCHEMAS[p.annotation])
    schema = CONVERTOR_SCHEMAS.get(p.convertor)
    if schema is not None:
        return copy.deepcopy(schema)
    # A user-registered Starlette convertor: its regex is all that is known about its values.
    return {"type": "string", "pattern": f"^(?:{p.regex})$"}


def _template(pattern: str, params: tuple[ParamFacts, ...]) -> tuple[str, tuple[str, ...]]:
    """``/users/<int:id>`` -> (``/users/{id}``, (``id``,))."""
    return _PLACEHOLDER.sub(lambda m: "{" + m.group(1) + "}", pattern), tuple(p.name for p in params)


def _default_operation_id(fact: RouteFacts, method: str, many: bool) -> str:
    return f"{fact.name}_{method.lower()}" if many else fact.name


def _split_doc(doc: str | None) -> tuple[str | None, str | None]:
    """A docstring's first paragraph (one line) as the summary, the rest as the description."""
    if not doc:
        return None, None
    first, _, rest = doc.strip().partition("\n\n")
    summary = " ".join(line.strip() for line in first.splitlines()).strip()
    return summary or None, rest.strip() or None


def _is_json_type(tp: Any) -> bool:
    """Whether a handler returning ``tp`` gets a JSON answer (``_returns.to_response``: dict, list, Struct)."""
    if tp is dict or tp is list or is_struct(tp):
        return True
    origin = typing.get_origin(tp)
    if origin in (dict, list):
        return True
    return typing.is_typeddict(tp)  # TypedDict values are dicts at runtime


def _phrase(code: str) -> str:
    try:
        return http.HTTPStatus(int(code)).phrase
    except ValueError:
        return "Response."
