"""Datastar: v1 events from the official SDK (byte for byte), responses, and signals read from requests."""

from __future__ import annotations

import json
from urllib.parse import quote

import msgspec
import pytest
from datastar_py import ServerSentEventGenerator as SDK

from gobstopper import Gobstopper
from gobstopper.extensions.datastar import Datastar, DatastarResponse, datastar_response, read_signals
from gobstopper.testing import TestClient


def test_merge_fragments_is_a_v1_patch_elements_event() -> None:
    event = Datastar.merge_fragments('<div id="count">42</div>', selector="#count")
    assert event == 'event: datastar-patch-elements\ndata: selector #count\ndata: elements <div id="count">42</div>\n\n'
    assert event == SDK.patch_elements('<div id="count">42</div>', selector="#count")


def test_multi_line_fragments_become_one_elements_line_each() -> None:
    event = Datastar.merge_fragments(["<p id='a'>1</p>", "<p id='b'>\n2</p>"])
    assert event.count("data: elements ") == 3
    assert event == SDK.patch_elements("<p id='a'>1</p>\n<p id='b'>\n2</p>")


@pytest.mark.parametrize(
    ("given", "v1"), [("morph", None), ("outer", "replace"), ("inner", "inner"), ("append", "append")]
)
def test_v0_merge_modes_map_to_v1_modes(given: str, v1: str | None) -> None:
    event = Datastar.merge_fragments("<p id='x'></p>", merge_mode=given)
    assert event == SDK.patch_elements("<p id='x'></p>", mode=v1)  # type: ignore[arg-type]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Datastar patch mode"):
        Datastar.patch_elements("<p></p>", mode="sideways")


def test_signals_scripts_removal_and_redirect_match_the_sdk() -> None:
    assert Datastar.patch_signals({"count": 1}) == 'event: datastar-patch-signals\ndata: signals {"count":1}\n\n'
    assert Datastar.merge_signals({"a": None}, only_if_missing=True) == SDK.patch_signals(
        {"a": None}, only_if_missing=True
    )
    assert Datastar.remove_fragments("#gone") == SDK.remove_elements("#gone")
    assert Datastar.execute_script("console.log(1)") == SDK.execute_script("console.log(1)")
    assert Datastar.redirect("/next") == SDK.redirect("/next")


def _app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/one")
    async def one(request):
        return datastar_response(Datastar.merge_fragments('<div id="count">42</div>', selector="#count"))

    @app.get("/many")
    async def many(request):
        async def events():
            for n in range(2):
                yield Datastar.patch_signals({"n": n})

        return DatastarResponse(events())

    @app.get("/args")
    async def args(request):
        return datastar_response(Datastar.patch_signals({"a": 1}), Datastar.remove_elements("#x"))

    class Counter(msgspec.Struct):
        count: int = 0

    @app.route("/signals", methods=["GET", "POST", "DELETE"])
    async def signals(request):
        if request.get_str("typed"):
            counter = await request.datastar(Counter)
            return {"typed": counter.count}
        return {"signals": await request.datastar()}

    return app


def test_datastar_response_is_an_event_stream() -> None:
    r = TestClient(_app()).post("/one")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.text == Datastar.merge_fragments('<div id="count">42</div>', selector="#count")


def test_generators_and_several_events() -> None:
    client = TestClient(_app())
    assert client.get("/many").text == Datastar.patch_signals({"n": 0}) + Datastar.patch_signals({"n": 1})
    assert client.get("/args").text == Datastar.patch_signals({"a": 1}) + Datastar.remove_elements("#x")


def test_signals_from_the_query_for_get_and_delete() -> None:
    client = TestClient(_app())
    query = "datastar=" + quote(json.dumps({"count": 3, "search": "é"}))
    headers = {"Datastar-Request": "true"}
    assert client.get("/signals?" + query, headers=headers).json() == {"signals": {"count": 3, "search": "é"}}
    assert client.delete("/signals?" + query, headers=headers).json() == {"signals": {"count": 3, "search": "é"}}
    assert client.get("/signals").json() == {"signals": {}}


def test_signals_from_the_json_body_into_a_struct() -> None:
    client = TestClient(_app())
    assert client.post("/signals", json={"count": 5}).json() == {"signals": {"count": 5}}
    assert client.post("/signals?typed=1", json={"count": 5}).json() == {"typed": 5}
    assert client.post("/signals?typed=1").json() == {"typed": 0}


def test_bad_signals_are_client_errors() -> None:
    client = TestClient(_app())
    r = client.post("/signals", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert client.post("/signals", json=[1, 2]).status_code == 400  # signals are an object
    r = client.post("/signals?typed=1", json={"count": "many"})
    assert r.status_code == 422
    assert client.get("/signals?datastar=%7B").status_code == 400


def test_read_signals_is_the_function_behind_request_datastar() -> None:
    assert Datastar.name == "datastar" and callable(read_signals)
