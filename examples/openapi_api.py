"""A small JSON API documented with OpenAPI 3.1, with Swagger UI and ReDoc served from package files.

Run it from this directory (``gobstopper run openapi_api:app``, ``uvicorn openapi_api:app``...), then open
``/docs`` (Swagger UI), ``/redoc`` (ReDoc) or ``/openapi.json``. Everything in the document is inferred from the
code below (path convertors, Struct parameters, return annotations, docstrings, the blueprint) except what the
decorators say. Items live in memory (at most ``MAX_ITEMS``), so the example needs no database.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
from typing import Annotated

import msgspec

from gobstopper import Blueprint, Gobstopper, Request, StreamResponse, abort
from gobstopper.extensions.openapi import (
    attach_openapi,
    attach_openapi_blueprint,
    query,
    request_example,
    response,
    security,
    stream,
)

MAX_ITEMS = 1000
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Price = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]


class NewItem(msgspec.Struct):
    """An item to create."""

    name: Name
    price: Price
    tags: list[Annotated[str, msgspec.Meta(max_length=30)]] = []


class ItemPatch(msgspec.Struct):
    """The fields to change (JSON or a form: every field is a scalar)."""

    name: Name | None = None
    price: Price | None = None


class Item(msgspec.Struct):
    """A stored item."""

    id: int
    name: str
    price: float
    tags: list[str]
    created: datetime.date


class ItemPage(msgspec.Struct):
    """One page of items."""

    items: list[Item]
    total: int


class ItemQuery(msgspec.Struct):
    """Filters and paging for the item list."""

    q: str = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


app = Gobstopper(__name__)
items = Blueprint("items", url_prefix="/api/items")
_store: dict[int, Item] = {}
_ids = itertools.count(1)


@items.get("/")
@query(ItemQuery)
async def list_items(request: Request) -> ItemPage:
    """List items.

    Items whose name contains `q` (case-insensitive), oldest first.
    """
    page = await request.bind(ItemQuery, source="query")
    found = [item for item in _store.values() if page.q.lower() in item.name.lower()]
    return ItemPage(found[page.offset : page.offset + page.limit], len(found))


@items.post("/")
@response(201, description="The item was created.", model=Item)
@response(409, description="The store is full.")
@request_example({"name": "Teapot", "price": 18.5, "tags": ["kitchen"]}, name="teapot")
async def create_item(request: Request, new: NewItem):
    """Create an item."""
    if len(_store) >= MAX_ITEMS:
        abort(409, f"The store holds at most {MAX_ITEMS} items.")
    item = Item(next(_ids), new.name, new.price, list(new.tags), datetime.date.today())
    _store[item.id] = item
    return item, 201


@items.get("/<int:item_id>")
@response(404, description="No item has this id.")
async def get_item(request: Request, item_id: int) -> Item:
    """Get one item."""
    return _find(item_id)


@items.patch("/<int:item_id>")
@response(404, description="No item has this id.")
async def update_item(request: Request, item_id: int, patch: ItemPatch) -> Item:
    """Change an item's name or price."""
    item = _find(item_id)
    if patch.name is not None:
        item.name = patch.name
    if patch.price is not None:
        item.price = patch.price
    return item


@items.delete("/<int:item_id>")
@security("bearer")
@response(401, description="No bearer token.")
@response(404, description="No item has this id.")
async def delete_item(request: Request, item_id: int) -> None:
    """Delete an item (needs a bearer token; any token does in this example)."""
    if not (request.headers.get("authorization") or "").lower().startswith("bearer "):
        abort(401, "Send Authorization: Bearer <token>.")
    _find(item_id)
    del _store[item_id]


def _find(item_id: int) -> Item:
    item = _store.get(item_id)
    if item is None:
        abort(404, f"No item {item_id}.")
    return item


@app.get("/api/events")
@stream("text/event-stream")
async def events(request: Request) -> StreamResponse:
    """Count to three as server-sent events."""

    async def count():
        for n in range(1, 4):
            yield f"data: {n}\n\n"
            await asyncio.sleep(0)

    return StreamResponse(count(), content_type="text/event-stream")


@app.get("/api/health")
async def health(request: Request) -> dict[str, str]:
    """Say the service is up."""
    return {"status": "ok"}


@app.websocket("/ws/echo")
async def echo(websocket):
    """Echo text messages (WebSockets are listed under x-websockets, not as operations)."""
    await websocket.accept()
    async for message in websocket:
        await websocket.send_text(message.data)


app.register_blueprint(items)
attach_openapi(
    app,
    title="Items API",
    version="1.0.0",
    description="A small item store: the example of `docs/openapi.md`.",
    security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
)
# The items blueprint alone, with its own pages (/api/items/docs, /api/items/redoc).
attach_openapi_blueprint(app, items, path="/api/items/openapi.json", title="Items (blueprint)", version="1.0.0")
