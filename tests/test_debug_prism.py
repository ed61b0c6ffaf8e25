"""Error Prism (gobstopper.debug): the debug answer to an unhandled exception, and what production never shows."""

from __future__ import annotations

import re

from gobstopper import Gobstopper
from gobstopper.debug import REDACTED, describe, is_secret_name, render_html
from gobstopper.testing import TestClient

HTML_ACCEPT = {"accept": "text/html,application/xhtml+xml"}


def _secret(*parts: str) -> str:
    # Built at run time, so the value is in no source line the page shows (only locals could leak it).
    return "".join(parts)


def make_app(debug: bool) -> Gobstopper:
    app = Gobstopper("prism_app", debug=debug)

    def lookup(table, key):
        api_token = _secret("tok", "-live-", "9f2")  # noqa: F841 - a local the page must redact
        return table[key]

    @app.get("/boom")
    async def boom(request):
        password = _secret("hun", "ter", "2")  # noqa: F841
        settings = {"secret_key": _secret("sk", "-", "77"), "region": "eu-west"}  # noqa: F841
        try:
            lookup({}, "missing")
        except KeyError as exc:
            raise RuntimeError("could not load the profile") from exc

    @app.get("/bad-repr")
    async def bad_repr(request):
        class Weird:
            def __repr__(self):
                raise ValueError("no repr for you")

        weird = Weird()  # noqa: F841
        raise ValueError("weird")

    return app


def test_browser_gets_the_chain_frames_source_and_redacted_locals() -> None:
    with TestClient(make_app(debug=True)) as client:
        response = client.get("/boom", headers={**HTML_ACCEPT, "authorization": "Bearer " + _secret("hdr", "-42")})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # The chain, root cause first, with Python's wording between them.
    assert page.index("<h2>KeyError: &#x27;missing&#x27;") < page.index("<h2>RuntimeError: could not load the profile")
    assert "direct cause of the following one" in page
    # Each frame's source with the failing line marked.
    failing = re.findall(r'<span class="failing"><span class="no">\d+</span>([^<]*)</span>', page)
    assert any("return table[key]" in line for line in failing)
    assert any("raise RuntimeError(&quot;could not load the profile&quot;) from exc" in line for line in failing)
    # Locals are shown, secrets are not: names, dict keys and request headers.
    assert "eu-west" in page
    assert "missing" in page
    for secret in (_secret("hun", "ter", "2"), _secret("tok", "-live-", "9f2"), _secret("sk", "-", "77"),
                   _secret("hdr", "-42")):  # fmt: skip
        assert secret not in page
    assert page.count(REDACTED) >= 4
    # No console and no script at all: the CSP forbids any.
    assert "<script" not in page.lower()
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_api_client_gets_problem_json_with_the_traceback() -> None:
    with TestClient(make_app(debug=True)) as client:
        response = client.get("/boom", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500
    assert body["detail"] == "RuntimeError: could not load the profile"
    assert [e["type"] for e in body["exceptions"]] == ["KeyError", "RuntimeError"]
    assert body["exceptions"][0]["relation"] == "cause"
    innermost = body["exceptions"][0]["frames"][-1]
    assert (innermost["function"], innermost["code"].strip()) == ("lookup", "return table[key]")
    assert innermost["locals"]["api_token"] == REDACTED
    assert "Traceback (most recent call last)" in body["traceback"]
    assert _secret("hun", "ter", "2") not in response.text


def test_production_answers_leak_nothing() -> None:
    with TestClient(make_app(debug=False)) as client:
        for headers in (HTML_ACCEPT, {"accept": "application/json"}):
            response = client.get("/boom", headers=headers)
            assert response.status_code == 500
            text = response.text
            for leak in ("RuntimeError", "KeyError", "Traceback", "lookup", "eu-west", ".py", "profile"):
                assert leak not in text
            assert "internal error" in text


def test_a_broken_repr_does_not_break_the_page() -> None:
    with TestClient(make_app(debug=True)) as client:
        response = client.get("/bad-repr", headers=HTML_ACCEPT)
    assert response.status_code == 500
    assert "<h2>ValueError: weird</h2>" in response.text
    assert '<td class="k">weird</td>' in response.text  # shown in some form (reprlib's fallback for a bad repr)


def test_secret_names() -> None:
    for name in ("password", "DB_PASSWORD", "passwd", "api_key", "secret", "token", "Authorization", "cookie",
                 "session_id", "csrf_token", "credentials", "signature"):  # fmt: skip
        assert is_secret_name(name), name
    for name in ("user", "region", "count", "path"):
        assert not is_secret_name(name), name


def test_describe_and_render_escape_everything() -> None:
    try:
        raise ValueError("<script>alert(1)</script>")
    except ValueError as exc:
        chain = describe(exc)
    page = render_html(chain)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
