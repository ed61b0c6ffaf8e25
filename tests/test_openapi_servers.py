"""The OpenAPI example (examples/openapi_api.py) on real servers: schemathesis drives the API from its own document,
and a real Chromium opens the Swagger UI and ReDoc pages with nothing reachable beyond loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as openapi_checks

from compat_tests.browser import artifact_path
from compat_tests.harness import RealServer, ServerKey

pytestmark = pytest.mark.servers

APP = "openapi_api:app"
#: Examples per operation: bounded so a run takes seconds; derandomized so a run is repeatable.
EXAMPLES = 40
CHECKS = [
    core_checks.not_a_server_error,  # no 5xx
    openapi_checks.status_code_conformance,  # every status sent is documented
    openapi_checks.content_type_conformance,  # with a documented media type
    openapi_checks.response_schema_conformance,  # and a body that fits its schema
    openapi_checks.response_headers_conformance,
]


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealServer]:
    running = RealServer(ServerKey(request.param, APP, "1"), tmp_path)
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("server", ["granian-rsgi", "uvicorn"], indirect=True)
def test_schemathesis_finds_no_error_and_no_answer_outside_the_document(server: RealServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    tested: list[str] = []
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=base, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures[operation.label] = str(exc)[:2000]
        tested.append(operation.label)
    assert sorted(tested) == [
        "DELETE /api/items/{item_id}",
        "GET /api/events",
        "GET /api/health",
        "GET /api/items/",
        "GET /api/items/{item_id}",
        "PATCH /api/items/{item_id}",
        "POST /api/items/",
    ]
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


@pytest.mark.parametrize("server", ["granian-rsgi"], indirect=True)
def test_chromium_lists_the_operations_in_swagger_ui_and_redoc(server: RealServer, page: Any) -> None:
    base = f"http://127.0.0.1:{server.port}"
    outside: list[str] = []
    csp_violations: list[str] = []

    def only_loopback(route: Any) -> None:
        url = route.request.url
        if url.startswith(base + "/"):
            route.continue_()
        else:  # nothing beyond loopback: record and refuse
            outside.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)

    answer = page.goto(base + "/docs")
    assert answer is not None and answer.status == 200
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/items/", "/api/items/{item_id}", "/api/health", "/api/events"} <= {s.strip() for s in summaries}
    assert page.locator(".opblock-summary-method").all_inner_texts().count("GET") >= 3
    page.screenshot(path=str(artifact_path("openapi-swagger-ui.png")), full_page=True)

    answer = page.goto(base + "/redoc")
    assert answer is not None and answer.status == 200
    page.wait_for_selector("[data-section-id^='tag/items/operation/']", timeout=30_000)
    page.locator("h2", has_text="Create an item.").first.wait_for(timeout=10_000)  # the operation's heading
    sections = page.locator("[data-section-id*='operation/']").evaluate_all("els => els.map(e => e.dataset.sectionId)")
    assert {section.rpartition("operation/")[2] for section in sections} == {
        "events",
        "health",
        "items.list_items",
        "items.create_item",
        "items.get_item",
        "items.update_item",
        "items.delete_item",
    }  # the document's operationIds: every operation is listed
    page.screenshot(path=str(artifact_path("openapi-redoc.png")), full_page=False)

    # Swagger UI needs nothing the CSP forbids; ReDoc's footer logo (Redocly's CDN) is the one thing blocked.
    assert [v for v in csp_violations if "cdn.redoc.ly" not in v] == []
    assert [u for u in outside if not u.startswith("https://cdn.redoc.ly/")] == []
