"""Responses, headers and cookies: refusing injection, keeping Set-Cookie headers apart."""

from __future__ import annotations

import pytest

from gobstopper import FileResponse, JSONResponse, Response, StreamResponse, redirect
from gobstopper.http import cookies as cookies_module
from gobstopper.http.cookies import build_set_cookie
from gobstopper.http.headers import ResponseHeaders


@pytest.mark.parametrize("value", ["v\r\nInjected: 1", "v\nx", "v\x00"])
def test_header_values_with_crlf_or_nul_are_refused(value: str) -> None:
    response = Response("x")
    with pytest.raises(ValueError):
        response.headers["X-Echo"] = value
    with pytest.raises(ValueError):
        Response("x", headers={"X-Echo": value})


@pytest.mark.parametrize("name", ["Bad Name", "a:b", "", "x\r\n"])
def test_header_names_must_be_tokens(name: str) -> None:
    with pytest.raises(ValueError):
        ResponseHeaders({name: "v"})


def test_headers_are_case_insensitive_and_keep_duplicates_added() -> None:
    headers = ResponseHeaders({"X-A": "1"})
    headers.add("Set-Cookie", "a=1")
    headers.add("set-cookie", "b=2")
    headers["x-a"] = "2"
    assert headers["X-A"] == "2"
    assert headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert headers.raw() == [("x-a", "2"), ("set-cookie", "a=1"), ("set-cookie", "b=2")]
    del headers["SET-COOKIE"]
    assert "set-cookie" not in headers


def test_content_type_defaults() -> None:
    assert Response("x").content_type == "text/html; charset=utf-8"
    assert Response(b"x").content_type == "application/octet-stream"
    assert JSONResponse({"a": 1}).body == b'{"a":1}'
    assert StreamResponse(iter(["a"]), content_type="text/event-stream").content_type == (
        "text/event-stream; charset=utf-8"
    )
    with pytest.raises(TypeError):
        Response({"not": "text"})
    with pytest.raises(ValueError):
        Response("x", status=1000)


def test_file_response_disposition() -> None:
    assert "content-disposition" not in FileResponse("a.txt").headers
    assert FileResponse("a.txt", filename="report.pdf").headers["content-disposition"] == (
        'attachment; filename="report.pdf"'
    )
    assert (
        "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        in FileResponse("a", filename="résumé.pdf").headers["content-disposition"]
    )


def test_redirect_percent_encodes_crlf() -> None:
    response = redirect("/x\r\nSet-Cookie: a=1")
    assert response.headers.getlist("location") == ["/x%0D%0ASet-Cookie:%20a=1"]
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("name", ["a b", "a;b", "a,b", "é", "a\r\n", ""])
def test_bad_cookie_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        build_set_cookie(name, "v")


def test_cookie_attributes() -> None:
    assert build_set_cookie("a", "b c") == 'a="b c"; Path=/; SameSite=Lax; Secure; HttpOnly'
    assert "Secure" in build_set_cookie("a", "1", samesite="none", secure=False)
    with pytest.raises(ValueError):
        build_set_cookie("a", "1", samesite="bogus")
    with pytest.raises(ValueError):
        build_set_cookie("a", "x" * 5000)
    with pytest.raises(ValueError):
        build_set_cookie("a", "1", path="/;evil")
    plain = build_set_cookie("a", "1", secure=False, httponly=False, samesite=None)
    assert plain == "a=1; Path=/"


def test_production_forces_secure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    cookies_module.production_cookie_policy.cache_clear()
    try:
        forced = build_set_cookie("a", "1", secure=False, httponly=False)
        assert forced == "a=1; Path=/; SameSite=Lax; Secure; HttpOnly"
    finally:
        monkeypatch.delenv("ENV")
        cookies_module.production_cookie_policy.cache_clear()


def test_multiple_set_cookie_stay_separate() -> None:
    response = Response("x")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.delete_cookie("c")
    values = response.headers.getlist("set-cookie")
    assert len(values) == 3
    assert values[2].startswith("c=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")


def test_file_response_answers_conditionals_ranges_and_head(tmp_path) -> None:
    from gobstopper import Gobstopper, send_from_directory
    from gobstopper.testing import TestClient

    (tmp_path / "report.txt").write_bytes(b"0123456789")
    app = Gobstopper("files")

    @app.get("/file")
    async def file(request):
        return FileResponse(tmp_path / "report.txt", headers={"Cache-Control": "no-store"})

    @app.get("/download")
    async def download(request):
        return FileResponse(tmp_path / "report.txt", filename="report.txt")

    @app.get("/files/<path:name>")
    async def files(request, name):
        return send_from_directory(tmp_path, name)

    client = TestClient(app)
    r = client.get("/file")
    assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"0123456789", "text/plain; charset=utf-8")
    assert (r.headers["content-length"], r.headers["cache-control"]) == ("10", "no-store")
    etag = r.headers["etag"]
    assert client.get("/file", headers={"If-None-Match": etag}).status_code == 304
    r = client.get("/file", headers={"Range": "bytes=2-4"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, b"234", "bytes 2-4/10")
    r = client.get("/file", headers={"Range": "bytes=50-"})
    assert (r.status_code, r.headers["content-range"]) == (416, "bytes */10")
    r = client.head("/file")
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "10")
    assert client.get("/download").headers["content-disposition"] == 'attachment; filename="report.txt"'
    assert client.get("/files/report.txt").content == b"0123456789"
    assert client.get("/files/missing.txt").status_code == 404
