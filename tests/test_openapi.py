"""OpenAPI 3.1 (gobstopper.extensions.openapi): what is inferred, the decorators, the document and docs pages served.

Every document built here is checked with openapi-spec-validator; answers the framework really sends (422, 415...)
are checked against the schemas the document gives them.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import uuid
from typing import Annotated, Any, Optional, Union

import jsonschema
import msgspec
import pytest
from openapi_spec_validator import validate

from gobstopper import Blueprint, Gobstopper, JSONResponse, StreamResponse, abort
from gobstopper.extensions.openapi import (
    OpenAPI,
    _ui,
    attach_openapi,
    attach_openapi_blueprint,
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
from gobstopper.testing import TestClient

URLENC = "application/x-www-form-urlencoded"


def spec_of(app: Gobstopper, path: str = "/openapi.json") -> dict[str, Any]:
    with TestClient(app) as client:
        r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    document = r.json()
    validate(document)
    return document


def conforms(document: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Validate ``value`` against ``schema`` with the document's components in scope (JSON Schema 2020-12)."""
    root = {**schema, "components": document.get("components", {})}
    jsonschema.Draft202012Validator(root).validate(value)


def resolve(document: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    ref = obj.get("$ref")
    if ref is None:
        return obj
    node: Any = document
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return resolve(document, node)


# -- the reference's examples -------------------------------------------------------------------------------------


def test_the_reference_examples_run_as_written() -> None:
    # PyPI page 0.5, "OpenAPI (App + Blueprint Scopes)".
    from gobstopper.extensions.openapi import attach_openapi

    app = Gobstopper(__name__)
    api_bp = Blueprint("api", url_prefix="/api")

    @api_bp.get("/users")
    async def list_users(request):
        return {"users": []}

    @app.get("/")
    async def index(request):
        return {"message": "Hello"}

    app.register_blueprint(api_bp)
    attach_openapi(app, title="My API", version="0.5.0")
    attach_openapi_blueprint(app, api_bp, path="/api/openapi.json")

    whole = spec_of(app)
    assert whole["openapi"] == "3.1.0"
    assert whole["info"] == {"title": "My API", "version": "0.5.0"}
    assert set(whole["paths"]) == {"/", "/api/users"}  # the docs' own routes are never documented
    scoped = spec_of(app, "/api/openapi.json")
    assert set(scoped["paths"]) == {"/api/users"}
    assert app.extensions["openapi"] is app.openapi
    assert app.extensions["openapi:/api/openapi.json"] is app.openapi_registry["/api/openapi.json"]
    with TestClient(app) as client:
        assert client.get("/api/docs").status_code == 200
        assert client.get("/api/redoc").status_code == 200


def test_the_reference_decorator_examples() -> None:
    # The reference's module docstrings (gobstopper.extensions.openapi and .decorators).
    from gobstopper.extensions.openapi.decorators import doc, request_body, response, security

    class User(msgspec.Struct):
        id: int
        name: str
        email: Optional[str] = None  # noqa: UP045 - as written in the reference

    app = Gobstopper(__name__)
    attach_openapi(
        app,
        title="User Management API",
        version="2.0.0",
        description="Comprehensive user and auth management",
        terms_of_service="https://example.com/terms",
        contact={"name": "API Team", "email": "api@example.com"},
        license={"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
        servers=[{"url": "https://api.example.com", "description": "Production"}],
        tags=[{"name": "Users", "description": "User operations"}],
        external_docs={"url": "https://docs.example.com", "description": "Full documentation"},
        components={"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        security=[{"bearerAuth": []}],
    )

    @app.get("/users/<int:id>")
    @doc(summary="Get user by ID", tags=["Users"])
    @response(200, description="User found", model=User)
    @response(404, description="User not found")
    async def get_user(request, id: int):
        return JSONResponse({"id": id, "name": "John"})

    @app.post("/users")
    @doc(summary="Create user", tags=["Users"], operationId="createUser", x_custom_field="custom value")
    @request_body(model=User, description="User data")
    @response(201, description="User created", model=User)
    @security({"bearerAuth": []})
    async def create_user(request):
        data = await request.json()
        return JSONResponse(data, status=201)

    document = spec_of(app)
    info = document["info"]
    assert (info["title"], info["termsOfService"], info["license"]["name"]) == (
        "User Management API",
        "https://example.com/terms",
        "MIT",
    )
    assert document["servers"][0]["url"] == "https://api.example.com"
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    get = document["paths"]["/users/{id}"]["get"]
    assert (get["summary"], get["tags"]) == ("Get user by ID", ["Users"])
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/User"}
    assert get["responses"]["404"]["description"] == "User not found"
    post = document["paths"]["/users"]["post"]
    assert (post["operationId"], post["x-custom-field"]) == ("createUser", "custom value")
    assert post["requestBody"]["description"] == "User data"
    assert set(post["responses"]) == {"201", "413"}
    assert post["security"] == [{"bearerAuth": []}]
    user = document["components"]["schemas"]["User"]
    assert user["properties"]["email"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


# -- path parameters ------------------------------------------------------------------------------------------


def test_path_convertors_become_typed_parameters() -> None:
    app = Gobstopper(__name__)

    @app.get("/c/<int:i>/<float:f>/<uuid:u>/<date:d>/<s>/<path:rest>")
    async def convertors(request, i, f, u, d, s, rest) -> dict:
        return {}

    @app.get("/cast/<n>/<flag>/<when>")
    async def cast(request, n: int, flag: bool, when: datetime.datetime) -> dict:
        return {"n": n}

    @app.get("/api/v<version>/items")
    async def versioned(request, version) -> dict:
        return {}

    attach_openapi(app)
    document = spec_of(app)
    params = {p["name"]: p for p in document["paths"]["/c/{i}/{f}/{u}/{d}/{s}/{rest}"]["get"]["parameters"]}
    assert all(p["in"] == "path" and p["required"] for p in params.values())
    assert params["i"]["schema"] == {"type": "integer", "minimum": 0}
    assert params["f"]["schema"] == {"type": "number", "minimum": 0}
    assert params["u"]["schema"]["format"] == "uuid"
    assert params["d"]["schema"] == {"type": "string", "format": "date"}
    assert params["s"]["schema"] == {"type": "string", "pattern": "^[^/]+$"}
    assert params["rest"]["schema"]["type"] == "string"
    # A date of the right shape can still be no date (2024-02-30): the framework's 400 is documented.
    responses = document["paths"]["/c/{i}/{f}/{u}/{d}/{s}/{rest}"]["get"]["responses"]
    assert responses["400"] == {"$ref": "#/components/responses/BadRequest"}
    cast_op = document["paths"]["/cast/{n}/{flag}/{when}"]["get"]
    schemas = {p["name"]: p["schema"] for p in cast_op["parameters"]}
    assert schemas == {
        "n": {"type": "integer"},
        "flag": {"type": "boolean"},
        "when": {"type": "string", "format": "date-time"},
    }
    assert "400" in cast_op["responses"]
    assert [p["name"] for p in document["paths"]["/api/v{version}/items"]["get"]["parameters"]] == ["version"]

    # The schemas say what the router accepts: check them against real requests.
    with TestClient(app) as client:
        value = uuid.uuid4()
        assert client.get(f"/c/1/2.5/{value}/2024-05-01/x/a/b").status_code == 200
        bad = client.get(f"/c/1/2.5/{value}/2024-02-30/x/a/b")
        assert bad.status_code == 400
        conforms(
            document, resolve(document, responses["400"])["content"]["application/problem+json"]["schema"], bad.json()
        )
        assert client.get("/cast/x/true/2024-05-01T10:00:00").status_code == 400
        assert client.get("/c/-1/2.5/{value}/2024-05-01/x/a").status_code == 404  # minimum 0: no sign in the route


# -- bodies ---------------------------------------------------------------------------------------------------


class Address(msgspec.Struct):
    city: str
    zip: str | None = None


class Person(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    age: int
    address: Address | None = None
    nicknames: list[str] = []


class Login(msgspec.Struct):
    user: str
    password: str
    remember: bool = False


def body_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/people")
    async def create_person(request, person: Person) -> Person:
        return person

    @app.put("/login")
    async def login(request, form: Login) -> dict[str, bool]:
        return {"ok": True}

    attach_openapi(app)
    return app


def test_struct_parameters_are_request_bodies_with_the_framework_errors() -> None:
    app = body_app()
    document = spec_of(app)
    op = document["paths"]["/people"]["post"]
    assert op["requestBody"]["required"] is True
    # A nested model only comes as JSON; a flat one also as either form type (the framework decodes both).
    assert list(op["requestBody"]["content"]) == ["application/json"]
    login = document["paths"]["/login"]["put"]
    assert list(login["requestBody"]["content"]) == ["application/json", URLENC, "multipart/form-data"]
    assert set(op["responses"]) == {"200", "400", "413", "415", "422"}
    person = document["components"]["schemas"]["Person"]
    assert person["required"] == ["name", "age"]
    assert person["properties"]["address"] == {
        "anyOf": [{"$ref": "#/components/schemas/Address"}, {"type": "null"}],
        "default": None,
    }
    assert document["components"]["schemas"]["Address"]["properties"]["zip"]["anyOf"][1] == {"type": "null"}

    def error_schema(code: str) -> dict[str, Any]:
        return resolve(document, op["responses"][code])["content"]["application/problem+json"]["schema"]

    with TestClient(app) as client:
        ok = client.post("/people", json={"name": "Ada", "age": 36, "address": {"city": "London"}})
        assert ok.status_code == 200
        conforms(document, op["responses"]["200"]["content"]["application/json"]["schema"], ok.json())
        invalid = client.post("/people", json={"name": "", "age": 36})
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["loc"] == "$.name"
        conforms(document, error_schema("422"), invalid.json())
        wrong_type = client.post("/people", content=b"name=x", headers={"content-type": "text/plain"})
        assert wrong_type.status_code == 415
        conforms(document, error_schema("415"), wrong_type.json())
        broken = client.post("/people", content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 400
        conforms(document, error_schema("400"), broken.json())
        assert client.put("/login", content=b"user=a&password=b", headers={"content-type": URLENC}).json() == {
            "ok": True
        }
        browser = client.post(
            "/people", content=b"{", headers={"content-type": "application/json", "accept": "text/html"}
        )
        assert browser.headers["content-type"].startswith("text/html")
        assert "text/html" in resolve(document, op["responses"]["400"])["content"]


def test_request_body_decorator_documents_a_body_read_by_hand() -> None:
    app = Gobstopper(__name__)

    @app.post("/raw")
    @request_body(model=list[Address], description="Addresses", required=True)
    @request_example([{"city": "Oslo"}], name="one", summary="One address")
    async def raw(request):
        return {"n": len(await request.json(list[Address]))}

    @app.post("/upload")
    @request_body(content={"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
    async def upload(request) -> None:
        await request.get_data()

    attach_openapi(app)
    document = spec_of(app)
    body = document["paths"]["/raw"]["post"]["requestBody"]
    assert body["description"] == "Addresses" and body["required"] is True
    media = body["content"]["application/json"]
    assert media["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Address"}}
    assert media["examples"]["one"] == {"value": [{"city": "Oslo"}], "summary": "One address"}
    conforms(document, media["schema"], media["examples"]["one"]["value"])
    assert "application/octet-stream" in document["paths"]["/upload"]["post"]["requestBody"]["content"]


# -- responses ------------------------------------------------------------------------------------------------


def test_return_annotations_become_success_responses() -> None:
    app = Gobstopper(__name__)

    @app.get("/struct")
    async def one(request) -> Address:
        return Address("Oslo")

    @app.get("/list")
    async def many(request) -> list[Address]:
        return [Address("Oslo")]

    @app.get("/mapping")
    async def mapping(request) -> dict[str, int]:
        return {"a": 1}

    @app.get("/maybe")
    async def maybe(request) -> Optional[Address]:  # noqa: UP045 - the spelling the reference's 0.5 fixed
        return None

    @app.get("/either")
    async def either(request) -> Union[Address, list[Address]]:  # noqa: UP007
        return []

    @app.get("/html")
    async def page(request) -> str:
        return "<p>hi</p>"

    @app.get("/bytes")
    async def blob(request) -> bytes:
        return b"\x00"

    @app.delete("/nothing")
    async def nothing(request) -> None:
        return None

    @app.get("/json")
    async def json_response(request) -> JSONResponse:
        return JSONResponse({})

    @app.get("/stream")
    async def streamed(request) -> StreamResponse:
        return StreamResponse(iter(["a"]))

    @app.get("/unknown")
    async def unknown(request):
        return {}

    attach_openapi(app)
    document = spec_of(app)

    def responses(path: str, method: str = "get") -> dict[str, Any]:
        return document["paths"][path][method]["responses"]

    def json_schema(path: str) -> dict[str, Any]:
        return responses(path)["200"]["content"]["application/json"]["schema"]

    ref = {"$ref": "#/components/schemas/Address"}
    assert json_schema("/struct") == ref
    assert json_schema("/list") == {"type": "array", "items": ref}
    assert json_schema("/mapping") == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert json_schema("/maybe") == ref and responses("/maybe")["204"] == {"description": "No content."}
    assert sorted(map(str, json_schema("/either")["anyOf"])) == sorted(map(str, [ref, {"type": "array", "items": ref}]))
    assert responses("/html")["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert list(responses("/bytes")["200"]["content"]) == ["application/octet-stream"]
    assert set(responses("/nothing", "delete")) == {"204", "413"}
    assert responses("/json")["200"]["content"] == {"application/json": {}}
    assert list(responses("/stream")["200"]["content"]) == ["text/plain"]
    assert responses("/unknown") == {"200": {"description": "Successful response."}}
    assert list(document["components"]["schemas"]) == ["Address", "Problem"]  # described once, shared

    with TestClient(app) as client:
        conforms(document, json_schema("/either"), client.get("/either").json())
        assert client.get("/maybe").status_code == 204
        assert client.get("/html").headers["content-type"].startswith("text/html")


def test_declared_responses_replace_the_inferred_success_and_errors_default_to_problems() -> None:
    app = Gobstopper(__name__)

    @app.post("/items")
    @response(201, description="Created", model=Address, headers={"Location": {"schema": {"type": "string"}}})
    @response(409)
    @response_example(201, {"city": "Oslo"}, name="oslo")
    async def create(request, item: Address) -> Address:
        abort(409, "exists")

    attach_openapi(app)
    document = spec_of(app)
    responses = document["paths"]["/items"]["post"]["responses"]
    assert "200" not in responses
    assert responses["201"]["headers"]["Location"]["schema"] == {"type": "string"}
    assert responses["201"]["content"]["application/json"]["examples"]["oslo"] == {"value": {"city": "Oslo"}}
    assert responses["409"]["description"] == "Conflict"
    with TestClient(app) as client:
        conflict = client.post("/items", json={"city": "Oslo"})
    assert conflict.status_code == 409
    conforms(document, responses["409"]["content"]["application/problem+json"]["schema"], conflict.json())


def test_streams_and_server_sent_events() -> None:
    class Tick(msgspec.Struct):
        n: int

    app = Gobstopper(__name__)

    @app.get("/events")
    @stream(schema=Tick, description="Ticks")
    async def events(request) -> StreamResponse:
        return StreamResponse(iter(['data: {"n": 1}\n\n']), content_type="text/event-stream")

    @app.get("/export")
    @stream("text/csv")
    async def export(request) -> StreamResponse:
        return StreamResponse(iter(["a,b\n"]), content_type="text/csv")

    attach_openapi(app)
    document = spec_of(app)
    sse = document["paths"]["/events"]["get"]["responses"]["200"]
    assert sse["description"] == "Ticks"
    event = sse["content"]["text/event-stream"]["schema"]
    assert set(event["properties"]) == {"data", "event", "id", "retry"}
    assert event["properties"]["data"]["contentSchema"] == {"$ref": "#/components/schemas/Tick"}
    conforms(document, event, {"data": '{"n": 1}', "event": "message"})
    csv = document["paths"]["/export"]["get"]["responses"]["200"]["content"]
    assert csv == {"text/csv": {"schema": {"type": "string"}}}


# -- operations: tags, names, docstrings, decorators ----------------------------------------------------------


def test_tags_summaries_and_operation_ids_are_inferred() -> None:
    app = Gobstopper(__name__)
    shop = Blueprint("shop", url_prefix="/shop")
    orders = Blueprint("orders", url_prefix="/orders")

    @orders.route("/", methods=["GET", "POST"])
    async def orders_root(request):
        """Orders.

        GET lists them,
        POST adds one.
        """
        return {}

    @shop.get("/")
    async def home(request):
        """The shop's
        home page."""
        return {}

    shop.register_blueprint(orders)
    app.register_blueprint(shop)
    attach_openapi(app)
    document = spec_of(app)
    get = document["paths"]["/shop/orders/"]["get"]
    post = document["paths"]["/shop/orders/"]["post"]
    assert get["tags"] == ["orders"]  # the innermost blueprint
    assert (get["summary"], get["description"]) == ("Orders.", "GET lists them,\nPOST adds one.")
    assert (get["operationId"], post["operationId"]) == ("shop.orders.orders_root_get", "shop.orders.orders_root_post")
    home_op = document["paths"]["/shop/"]["get"]
    assert (home_op["tags"], home_op["summary"], home_op["operationId"]) == (
        ["shop"],
        "The shop's home page.",
        "shop.home",
    )
    assert "description" not in home_op


def test_decorators_on_handlers_and_blueprints() -> None:
    app = Gobstopper(__name__)
    admin = tags("Administration")(security("bearer")(Blueprint("admin", url_prefix="/admin")))
    hidden = exclude(Blueprint("hidden", url_prefix="/hidden"))

    @admin.get("/stats")
    @doc(summary="Statistics", description="Counts.", externalDocs={"url": "https://example.com"})
    async def stats(request):
        """Not this summary."""
        return {}

    @admin.get("/public")
    @security()
    @deprecated
    async def public(request):
        return {}

    @hidden.get("/x")
    async def x(request):
        return {}

    @app.get("/secret")
    @exclude
    async def secret(request):
        return {}

    @app.get("/search")
    @param("X-Request-Id", "header", description="Trace id", schema=uuid.UUID)
    @param("lang", required=True)
    @deprecated()
    async def search(request):
        return {}

    app.register_blueprint(admin)
    app.register_blueprint(hidden)
    attach_openapi(app, security_schemes={"bearer": {"type": "http", "scheme": "bearer"}})
    document = spec_of(app)
    assert set(document["paths"]) == {"/admin/stats", "/admin/public", "/search"}
    stats_op = document["paths"]["/admin/stats"]["get"]
    assert (stats_op["summary"], stats_op["description"]) == ("Statistics", "Counts.")
    assert stats_op["externalDocs"] == {"url": "https://example.com"}
    assert stats_op["tags"] == ["Administration"] and stats_op["security"] == [{"bearer": []}]
    public_op = document["paths"]["/admin/public"]["get"]
    assert public_op["security"] == [] and public_op["deprecated"] is True
    search_op = document["paths"]["/search"]["get"]
    lang, header = search_op["parameters"]  # decorators apply from the bottom up
    assert (header["in"], header["schema"]) == ("header", {"type": "string", "format": "uuid"})
    assert (lang["in"], lang["required"], lang["schema"]) == ("query", True, {"type": "string"})
    assert search_op["deprecated"] is True


def test_query_models_become_query_parameters() -> None:
    class Filters(msgspec.Struct):
        q: str
        limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10
        tag: list[str] = []

    app = Gobstopper(__name__)

    @app.get("/search")
    @query(Filters)
    @param("q", description="Words to look for")
    async def search(request) -> dict[str, Any]:
        filters = await request.bind(Filters, source="query")
        return msgspec.structs.asdict(filters)

    attach_openapi(app)
    document = spec_of(app)
    op = document["paths"]["/search"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["q"]["required"] is True and params["q"]["description"] == "Words to look for"
    assert params["limit"] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
    }
    assert (params["tag"]["style"], params["tag"]["explode"]) == ("form", True)
    assert "422" in op["responses"]
    with TestClient(app) as client:
        assert client.get("/search?q=x&tag=a").json() == {"q": "x", "limit": 10, "tag": ["a"]}
        missing = client.get("/search")
        assert missing.status_code == 422
        conforms(
            document,
            resolve(document, op["responses"]["422"])["content"]["application/problem+json"]["schema"],
            missing.json(),
        )


def test_websocket_routes_are_listed_apart() -> None:
    app = Gobstopper(__name__)

    @app.websocket("/ws/<room>")
    async def chat(websocket, room):
        """Chat in a room."""

    attach_openapi(app)
    document = spec_of(app)
    assert document["paths"] == {}
    assert document["x-websockets"] == [{"path": "/ws/{room}", "name": "chat", "summary": "Chat in a room."}]


def test_include_modes_and_filters() -> None:
    app = Gobstopper(__name__)
    api = Blueprint("api", url_prefix="/api")

    @app.get("/plain")
    async def plain(request):
        return {}

    @app.get("/decorated")
    @doc(summary="Decorated")
    async def decorated(request):
        return {}

    @api.get("/a")
    async def a(request):
        return {}

    app.register_blueprint(api)
    attach_openapi(app, include_mode="opt_in")
    attach_openapi(app, path="/v/openapi.json", include_prefixes=["/api"])
    assert set(spec_of(app)["paths"]) == {"/decorated"}
    assert set(spec_of(app, "/v/openapi.json")["paths"]) == {"/api/a"}
    with pytest.raises(ValueError, match="include_mode"):
        OpenAPI(include_mode="everything")
    with pytest.raises(ValueError, match="3.1"):
        OpenAPI(openapi="3.0.3")


def test_mounted_apps_are_documented_under_their_prefix() -> None:
    app = Gobstopper(__name__)
    sub = Gobstopper("sub")

    @sub.get("/items/<int:item_id>")
    async def item(request, item_id) -> dict:
        return {}

    app.mount("/v1", sub)
    attach_openapi(app)
    assert "/v1/items/{item_id}" in spec_of(app)["paths"]


def test_a_mounted_app_announces_its_prefix_as_the_server() -> None:
    app = Gobstopper(__name__)
    sub = Gobstopper("sub")

    @sub.get("/ping")
    async def ping(request) -> dict:
        return {}

    attach_openapi(sub)
    app.mount("/v1", sub)
    document = spec_of(app, "/v1/openapi.json")
    assert document["servers"] == [{"url": "/v1"}]
    assert set(document["paths"]) == {"/ping"}
    with TestClient(app) as client:
        page = client.get("/v1/docs").text
    assert 'data-spec-url="/v1/openapi.json"' in page and 'src="/v1/_openapi/swagger-ui-bundle.js"' in page


def test_patterns_of_one_shape_share_a_path(caplog: pytest.LogCaptureFixture) -> None:
    app = Gobstopper(__name__)
    sub = Gobstopper("sub")

    @app.get("/v1/things/<int:thing_id>")
    async def by_id(request, thing_id) -> dict:
        return {}

    @app.delete("/v1/things/<int:key>")
    async def remove(request, key) -> None:
        return None

    @sub.get("/things/<int:other>")
    async def shadowed(request, other) -> dict:  # never reached: the app's own route answers first
        return {}

    app.mount("/v1", sub)
    attach_openapi(app)
    with caplog.at_level(logging.WARNING, logger="gobstopper.openapi"):
        document = spec_of(app)
    # OpenAPI has one path for one shape: the second route's parameter takes the first one's name.
    item = document["paths"]["/v1/things/{thing_id}"]
    assert set(item) == {"get", "delete"}
    assert item["delete"]["parameters"][0]["name"] == "thing_id"
    assert item["get"]["operationId"] == "by_id"
    assert "shadowed" in caplog.text and "left out" in caplog.text


def test_the_document_is_cached_and_follows_new_routes() -> None:
    app = Gobstopper(__name__)
    ext = attach_openapi(app)

    @app.get("/one")
    async def one(request):
        return {}

    first = ext.document()
    assert ext.document() is first
    assert ext.json() is ext.json()

    @app.get("/two")
    async def two(request):
        return {}

    assert set(ext.document()["paths"]) == {"/one", "/two"}
    doc(summary="Later")(two)
    assert "summary" not in ext.document()["paths"]["/two"]["get"]
    ext.invalidate()
    assert ext.document()["paths"]["/two"]["get"]["summary"] == "Later"
    with pytest.raises(RuntimeError, match="not registered"):
        OpenAPI().document()


def test_validate_spec_reports_what_a_user_component_breaks() -> None:
    app = Gobstopper(__name__)
    ext = attach_openapi(app, validate_spec=True, components={"schemas": {"Broken": {"type": 12}}})
    ext.document()
    assert ext.last_validation_warnings
    strict = attach_openapi(
        Gobstopper(__name__), strict_validation=True, components={"schemas": {"Broken": {"type": 12}}}
    )
    with pytest.raises(RuntimeError, match="invalid"):
        strict.document()
    fine = attach_openapi(Gobstopper(__name__), validate_spec=True)
    fine.document()
    assert fine.last_validation_warnings == []


class Problem(msgspec.Struct):
    """A user's own Struct that happens to share the name of the framework's problem schema."""

    what: str


def test_user_structs_named_like_the_problem_schemas_keep_their_name() -> None:
    app = Gobstopper(__name__)

    @app.post("/problems")
    async def report(request, problem: Problem) -> Problem:
        return problem

    attach_openapi(app)
    document = spec_of(app)
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["properties"] == {"what": {"type": "string"}}
    assert "GobstopperProblem" in schemas
    errors = resolve(document, document["paths"]["/problems"]["post"]["responses"]["415"])
    assert errors["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/GobstopperProblem"}


# -- the pages --------------------------------------------------------------------------------------------------


def test_docs_pages_load_only_package_files_under_a_strict_csp() -> None:
    app = Gobstopper(__name__)
    attach_openapi(app, title="Pages <&> Test")
    with TestClient(app) as client:
        for path, csp in (("/docs", _ui.SWAGGER_CSP), ("/redoc", _ui.REDOC_CSP)):
            r = client.get(path)
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/html; charset=utf-8"
            assert r.headers["content-security-policy"] == csp
            assert "script-src 'self';" in csp and "unsafe-eval" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            page = r.text
            assert "Pages &lt;&amp;&gt; Test" in page
            scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
            assert scripts and all('src="/_openapi/' in attrs and not body.strip() for attrs, body in scripts)
            assert "http://" not in page and "https://" not in page
            for url in re.findall(r'(?:src|href)="(/_openapi/[^"]+)"', page):
                asset = client.get(url)
                assert asset.status_code == 200, url
                assert asset.headers["x-content-type-options"] == "nosniff"
        assert client.get("/_openapi/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/_openapi/swagger-ui.css").headers["content-type"].startswith("text/css")
        assert client.get("/_openapi/..%2Fopenapi.json").status_code == 404
        assert client.get("/_openapi/__init__.py").status_code == 404
        assert client.head("/docs").status_code == 200


def test_docs_pages_are_off_in_production_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    app = Gobstopper(__name__)
    attach_openapi(app)
    with TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/_openapi/swagger-ui-bundle.js").status_code == 404
    enabled = Gobstopper(__name__)
    attach_openapi(enabled, enable_docs=True)
    with TestClient(enabled) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/redoc").status_code == 404


def test_a_missing_ui_package_turns_its_page_off_or_fails_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swagger_ui_bundle", None)  # as if not installed: import fails
    app = Gobstopper(__name__)
    attach_openapi(app)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 200
    with pytest.raises(RuntimeError, match=r"gobstopper\[openapi\]"):
        OpenAPI(enable_docs=True)


def test_a_type_msgspec_cannot_describe_is_any_value_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Opaque:
        """Not a type msgspec knows."""

    app = Gobstopper(__name__)

    @app.get("/opaque")
    @response(200, model=Opaque)
    @query(Opaque)
    async def opaque(request):
        return {}

    attach_openapi(app)
    with caplog.at_level(logging.WARNING, logger="gobstopper.openapi"):
        document = spec_of(app)
    op = document["paths"]["/opaque"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {}
    assert "parameters" not in op
    assert caplog.text.count("cannot describe") == 1  # once per document, however often the type is used
