"""Forms, multipart, uploads, ``bind``, negotiation and ``LimitsMiddleware`` through both in-process clients
(ASGI ``TestClient`` and ``RSGITestClient``); ``secure_filename`` and the negotiation parser directly.

The rows of docs/hardening.md themselves run over every path, real servers included, in
``compat_tests/test_compat_bodies.py``; this module pins the API around them.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers, UploadFile

from gobstopper import Gobstopper, LimitsMiddleware, Response, negotiate, secure_filename
from gobstopper._json_depth import json_too_deep
from gobstopper.http.errors import BadRequest
from gobstopper.http.file_storage import FileStorage, UploadSpool, display_filename
from gobstopper.http.forms import MAX_FORM_FIELDS, MAX_FORM_FILES, MAX_PART_BYTES
from gobstopper.http.negotiation import MAX_ACCEPT_ITEMS, accepts, best_match, parse_accept
from gobstopper.http.request import DEFAULT_MAX_BODY_BYTES
from gobstopper.settings import DEFAULT_MAX_JSON_DEPTH
from gobstopper.testing import RSGITestClient, TestClient

B = "bNd"
MULTIPART = f"multipart/form-data; boundary={B}"
URLENC = "application/x-www-form-urlencoded"
PROBLEM = "application/problem+json"


def part(name: str, value: bytes, filename: str | None = None, ctype: str | None = None) -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    extra = f"Content-Type: {ctype}\r\n" if ctype else ""
    return f"--{B}\r\nContent-Disposition: {disp}\r\n{extra}\r\n".encode() + value + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{B}--\r\n".encode()


class Signup(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []


def make_app(upload_dir: Path) -> Gobstopper:
    app = Gobstopper(__name__)
    saved: dict[str, Any] = {}
    app.saved = saved  # type: ignore[attr-defined]

    @app.post("/form")
    async def form(request):
        return {"fields": await request.form(), "get_form": await request.get_form()}

    @app.post("/form-model")
    async def form_model(request):
        return msgspec.to_builtins(await request.form(Signup))

    @app.post("/multipart")
    async def mp(request):
        max_size = request.args.get("max_size")
        fields = await request.multipart(max_size=int(max_size[0]) if max_size else None)
        files = await request.files
        return {
            "fields": fields,
            "files": {
                k: {"filename": f.filename, "type": f.content_type, "size": f.size, "data": (await f.read()).decode()}
                for k, f in files.items()
            },
        }

    @app.post("/files")
    async def files(request):
        return {"files": sorted(await request.get_files())}

    @app.post("/save")
    async def save(request):
        storage = (await request.get_files())["f"]
        head = await storage.read(3)
        await storage.seek(0)
        target = upload_dir / secure_filename(storage.filename or "") if storage.filename else upload_dir / "x"
        await storage.save(target)
        buf = io.BytesIO()
        await storage.save(buf)
        return {
            "head": head.decode(),
            "disk": target.read_bytes().decode(),
            "buf": buf.getvalue().decode(),
            "name": target.name,
            "repr": repr(storage),
            "part_type": storage.headers["content-type"],
        }

    @app.post("/save-no-await")
    async def save_no_await(request):
        storage = (await request.get_files())["f"]
        target = upload_dir / "reference-style"
        storage.save(target)  # the reference's style: not awaited; complete when it returns
        saved["size_at_once"] = os.path.getsize(target)
        saved["path"] = target
        return {"ok": True}

    @app.post("/bind/<source>")
    async def bind(request, source: str):
        return msgspec.to_builtins(await request.bind(Signup, source=source))

    @app.get("/bind-query")
    async def bind_query(request):
        return msgspec.to_builtins(await request.bind(Signup))

    @app.get("/negotiate")
    async def neg(request):
        return {
            "choice": negotiate(request, ["application/json", "text/html"]),
            "accepts_html": request.accepts("text/html"),
            "best": request.best_match(["text/plain", "application/xml"]),
        }

    @app.post("/data")
    async def data(request):
        return {"len": len(await request.get_data()), "limit": request.max_body_bytes}

    @app.post("/json")
    async def json_(request):
        return {"value": await request.json(), "depth": request.max_json_depth}

    return app


@pytest.fixture(params=["asgi", "rsgi"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    app = make_app(tmp_path)
    c: Any = TestClient(app, raise_server_exceptions=False) if request.param == "asgi" else RSGITestClient(app)
    with c:
        c.app_under_test = app
        c.upload_dir = tmp_path
        yield c


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    doc = r.json()
    assert doc["status"] == status
    return doc


# -- secure_filename / display_filename ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("..\\..\\windows\\win.ini", "windows_win.ini"),
        ("/etc/passwd", "etc_passwd"),
        ("My cool movie.mov", "My_cool_movie.mov"),
        ("i contain cool \xfcml\xe4uts.txt", "i_contain_cool_umlauts.txt"),
        (".htaccess", "htaccess"),
        ("a\x00b.txt", "ab.txt"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("LPT\u00b9", "LPT1"),  # NFKD turns the superscript into a plain digit... and then it is a device name?
        ("x;rm -rf ~.sh", "xrm_-rf_.sh"),
        ("evil.php\x00.jpg", "evil.php.jpg"),
    ],
)
def test_secure_filename(raw: str, safe: str) -> None:
    """Only ASCII letters, digits, ``_``, ``-``, ``.``; no separators; no leading dot; device names prefixed."""
    got = secure_filename(raw)
    if raw == "LPT\u00b9":
        # NFKD maps "¹" to "1": the result must not be a bare device name.
        assert got.upper() != "LPT1", got
        return
    assert got == safe
    assert "/" not in got and "\\" not in got and not got.startswith(".")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.txt", "x.txt"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("a\x01b\x7f.txt", "ab.txt"),
        ("dir/", None),
        ("..", None),
        (".", None),
        ("  ", None),
        (None, None),
        ("r\u00e9sum\u00e9.pdf", "r\u00e9sum\u00e9.pdf"),
    ],
)
def test_display_filename_is_a_basename(raw: str | None, shown: str | None) -> None:
    assert display_filename(raw) == shown


# -- FileStorage ----------------------------------------------------------------------------------------------------


def test_file_storage_read_seek_save_to_path_and_file_object(client: Any) -> None:
    body = multipart(part("f", b"hello world", "../../My Report.txt", "text/plain"))
    r = client.post("/save", content=body, headers={"content-type": MULTIPART})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["head"] == "hel" and doc["disk"] == "hello world" and doc["buf"] == "hello world"
    assert doc["name"] == "My_Report.txt"  # filename "My Report.txt" (display basename), stored via secure_filename
    assert doc["repr"] == "<FileStorage 'f' filename='My Report.txt' 'text/plain'>"
    assert doc["part_type"] == "text/plain"
    assert [p.name for p in client.upload_dir.iterdir()] == ["My_Report.txt"]


def test_file_storage_save_without_await_is_complete_when_it_returns(client: Any) -> None:
    """Reference-style ``file.save(path)`` (not awaited) has written the whole file when it returns (Flask)."""
    data = os.urandom(3 * 1024 * 1024)  # over the 1 MiB spool: a real temporary file
    r = client.post("/save-no-await", content=multipart(part("f", data, "a.bin")), headers={"content-type": MULTIPART})
    assert r.status_code == 200, r.text
    assert client.app_under_test.saved["size_at_once"] == len(data)
    assert client.app_under_test.saved["path"].read_bytes() == data


def _spooled_upload(data: bytes) -> FileStorage:
    spool = UploadSpool(max_size=1024 * 1024)
    spool.write(data)
    spool.seek(0)
    return FileStorage("f", UploadFile(spool, filename="a.bin"))  # type: ignore[arg-type]


def _new_file_mode(directory: Path) -> int:
    probe = directory / "probe"
    probe.write_bytes(b"")
    mode = probe.stat().st_mode & 0o777
    probe.unlink()
    return mode


def test_spooled_upload_is_moved_into_place_not_copied(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024)
    storage = _spooled_upload(data)
    spool = storage.stream
    temporary = spool.path  # type: ignore[attr-defined]
    assert temporary is not None and os.stat(temporary).st_mode & 0o777 == 0o600  # private while spooled
    target = tmp_path / "out.bin"
    target.write_bytes(b"an older file of that name")
    storage.save(target)
    assert target.read_bytes() == data  # replaced, whole
    assert os.stat(target).st_ino == os.fstat(spool.fileno()).st_ino  # the same file: moved, not copied
    assert not os.path.exists(temporary) and spool.path is None  # type: ignore[attr-defined]
    assert target.stat().st_mode & 0o777 == _new_file_mode(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary name left beside it
    storage.save(tmp_path / "second.bin")  # the spool is still readable: a second save copies
    assert (tmp_path / "second.bin").read_bytes() == data
    buffer = io.BytesIO()
    storage.save(buffer)
    assert buffer.getvalue() == data
    spool.close()


def test_spooled_upload_to_another_file_system_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hard links cannot cross file systems: the spool lives on /dev/shm (tmpfs) here, the target in tmp_path."""
    shm = Path("/dev/shm")
    assert shm.is_dir() and os.stat(shm).st_dev != os.stat(tmp_path).st_dev
    spool_dir = Path(tempfile.mkdtemp(dir=shm))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
        data = os.urandom(2 * 1024 * 1024)
        storage = _spooled_upload(data)
        temporary = storage.stream.path  # type: ignore[attr-defined]
        assert temporary is not None and temporary.startswith(str(spool_dir))
        storage.save(tmp_path / "out.bin")
        assert (tmp_path / "out.bin").read_bytes() == data
        assert os.path.exists(temporary)  # copied: the spool keeps its file until closed
        assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
        storage.stream.close()
        assert not os.path.exists(temporary)
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)


def test_spool_files_are_removed_after_the_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = Gobstopper(__name__)
    seen: list[str] = []

    @app.post("/u")
    async def u(request):
        storage = (await request.get_files())["f"]
        seen.append(storage.stream.path)
        return {"on_disk": os.path.exists(storage.stream.path)}

    with TestClient(app) as c:
        r = c.post(
            "/u", content=multipart(part("f", b"x" * (2 * 1024 * 1024), "a")), headers={"content-type": MULTIPART}
        )
    assert r.json() == {"on_disk": True}
    assert seen[0].startswith(str(tmp_path)) and list(tmp_path.iterdir()) == []


def test_file_storage_outside_an_event_loop(tmp_path: Path) -> None:
    upload = UploadFile(io.BytesIO(b"abc"), filename="../x.txt", headers=Headers({"content-type": "text/csv"}))
    storage = FileStorage("f", upload)
    assert (storage.filename, storage.content_type, storage.name) == ("x.txt", "text/csv", "f")
    storage.save(tmp_path / "out")  # no loop running: copied at once
    assert (tmp_path / "out").read_bytes() == b"abc"
    default = FileStorage("g", UploadFile(io.BytesIO(b""), filename=None))
    assert (default.filename, default.content_type) == (None, "application/octet-stream")


def test_uploads_are_spooled_not_held_in_memory(tmp_path: Path) -> None:
    """A file over 1 MiB rolls over to a temporary file while the body streams."""
    app = Gobstopper(__name__)

    @app.post("/u")
    async def u(request):
        storage = (await request.get_files())["f"]
        return {"rolled": storage.stream._rolled, "size": storage.size}

    with TestClient(app) as c:
        r = c.post(
            "/u", content=multipart(part("f", b"x" * (2 * 1024 * 1024), "a")), headers={"content-type": MULTIPART}
        )
    assert r.json() == {"rolled": True, "size": 2 * 1024 * 1024}


# -- forms and multipart --------------------------------------------------------------------------------------


def test_urlencoded_fields_keep_repeats_and_order(client: Any) -> None:
    r = client.post("/form", content=b"a=1&b=2&a=3&empty=&sp=x+y%21", headers={"content-type": URLENC})
    assert r.status_code == 200, r.text
    fields = {"a": ["1", "3"], "b": ["2"], "empty": [""], "sp": ["x y!"]}
    assert r.json() == {"fields": fields, "get_form": fields}


def test_form_on_a_non_form_body_is_415_and_get_form_is_empty(client: Any) -> None:
    assert_problem(client.post("/form", content=b"{}", headers={"content-type": "application/json"}), 415)
    assert_problem(client.post("/form", content=b"a=1"), 415)  # no content type at all
    r = client.post("/files", content=b"a=1", headers={"content-type": URLENC})
    assert r.json() == {"files": []}


def test_form_into_a_model_with_repeated_values(client: Any) -> None:
    r = client.post("/form-model", content=b"name=a&age=3&tags=x&tags=y", headers={"content-type": URLENC})
    assert r.json() == {"name": "a", "age": 3, "tags": ["x", "y"]}
    doc = assert_problem(client.post("/form-model", content=b"name=a", headers={"content-type": URLENC}), 422)
    assert doc["errors"] == [{"loc": "$", "msg": "Object missing required field `age`"}]
    doc = assert_problem(client.post("/form-model", content=b"name=a&age=old", headers={"content-type": URLENC}), 422)
    assert doc["errors"][0]["loc"] == "$.age"


def test_multipart_fields_and_files(client: Any) -> None:
    body = multipart(
        part("title", b"hi"),
        part("title", b"again"),
        part("doc", b"%PDF", "../../x.pdf", "application/pdf"),
        part("doc", b"second file of the same field", "y.pdf"),
        part("raw", b"bytes", "r.bin"),
    )
    r = client.post("/multipart", content=body, headers={"content-type": MULTIPART})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "fields": {"title": ["hi", "again"]},
        "files": {
            "doc": {"filename": "x.pdf", "type": "application/pdf", "size": 4, "data": "%PDF"},  # first of the field
            "raw": {"filename": "r.bin", "type": "application/octet-stream", "size": 5, "data": "bytes"},
        },
    }


def test_multipart_max_size_lowers_the_limit(client: Any) -> None:
    body = multipart(part("f", b"x" * 500, "a"))
    assert (
        client.post("/multipart?max_size=10000", content=body, headers={"content-type": MULTIPART}).status_code == 200
    )
    assert_problem(client.post("/multipart?max_size=100", content=body, headers={"content-type": MULTIPART}), 413)
    assert_problem(client.post("/multipart", content=b"a=1", headers={"content-type": URLENC}), 415)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (multipart(*(part(f"f{i}", b"1") for i in range(MAX_FORM_FIELDS + 1))), "Too many fields"),
        (multipart(*(part(f"f{i}", b"1", "a") for i in range(MAX_FORM_FILES + 1))), "Too many files"),
        (multipart(part("big", b"x" * (MAX_PART_BYTES + 1))), "Part exceeded maximum size"),
        (b"--other\r\n\r\n", "Invalid"),
    ],
    ids=["fields", "files", "part-size", "wrong-boundary"],
)
def test_multipart_caps_are_400(client: Any, body: bytes, detail: str) -> None:
    doc = assert_problem(client.post("/multipart", content=body, headers={"content-type": MULTIPART}), 400)
    assert detail in doc["detail"]


def test_multipart_caps_are_inclusive(client: Any) -> None:
    body = multipart(part("big", b"x" * MAX_PART_BYTES), *(part(f"f{i}", b"1") for i in range(MAX_FORM_FIELDS - 1)))
    r = client.post("/multipart", content=body, headers={"content-type": MULTIPART})
    assert r.status_code == 200, r.text
    assert len(r.json()["fields"]) == MAX_FORM_FIELDS


def _elapsed(c: Any, body: bytes, ctype: str) -> float:
    t0 = time.perf_counter()
    r = c.post("/multipart", content=body, headers={"content-type": ctype})
    assert r.status_code in (200, 400), r.text
    return time.perf_counter() - t0


def test_pathological_multipart_inputs_take_linear_time(client: Any) -> None:
    """Rows 21–23: ten times the input takes at most ~ten times as long (40× margin): a backslash run in a quoted
    Content-Type parameter, CRLF before the first boundary, base64-declared whitespace."""
    small, large = 800, 8000
    for make in (
        lambda n: (multipart(part("a", b"1")), 'multipart/form-data; a="' + "\\" * n + "; boundary=" + B),
        lambda n: (b"\r\n" * (n * 50) + multipart(part("a", b"1")), MULTIPART),
        lambda n: (multipart(part("a", b" " * (n * 50))), MULTIPART),
    ):
        _elapsed(client, *make(small))  # warm up
        base = min(_elapsed(client, *make(small)) for _ in range(3))
        big = min(_elapsed(client, *make(large)) for _ in range(2))
        assert big <= 40 * base + 0.05, (big, base)


# -- bind ---------------------------------------------------------------------------------------------------------


def test_bind_from_each_source(client: Any) -> None:
    r = client.post("/bind/json", json={"name": "j", "age": 1})
    assert r.json() == {"name": "j", "age": 1, "tags": []}
    r = client.post("/bind/auto", json={"name": "j", "age": 2})
    assert r.json()["age"] == 2
    r = client.post("/bind/form", content=b"name=f&age=3", headers={"content-type": URLENC})
    assert r.json()["age"] == 3
    r = client.post("/bind/auto", content=b"name=f&age=4", headers={"content-type": URLENC})
    assert r.json()["age"] == 4
    r = client.post(
        "/bind/multipart", content=multipart(part("name", b"m"), part("age", b"5")), headers={"content-type": MULTIPART}
    )
    assert r.json()["age"] == 5
    r = client.post("/bind/query?name=q&age=6&tags=a&tags=b")
    assert r.json() == {"name": "q", "age": 6, "tags": ["a", "b"]}
    assert client.get("/bind-query?name=q&age=7").json()["age"] == 7  # auto without a body type: the query
    # One value for a list field is a one-element list (it used to be a scalar, so a 422); forms alike.
    assert client.post("/bind/query?name=q&age=8&tags=a").json()["tags"] == ["a"]
    assert client.post("/bind/form", content=b"name=f&age=9&tags=b", headers={"content-type": URLENC}).json()[
        "tags"
    ] == ["b"]


def test_bind_errors(client: Any) -> None:
    assert_problem(client.post("/bind/json", content=b"name=f", headers={"content-type": URLENC}), 415)
    assert_problem(client.post("/bind/multipart", content=b"name=f", headers={"content-type": URLENC}), 415)
    assert_problem(client.post("/bind/form", json={"name": "x"}), 415)
    doc = assert_problem(client.post("/bind/json", json={"name": "x", "age": "y"}), 422)
    assert doc["errors"][0]["loc"] == "$.age"
    assert_problem(client.post("/bind/query?name=q"), 422)
    assert client.post("/bind/nonsense", json={}).status_code == 500  # a programming error, not the client's


# -- negotiation --------------------------------------------------------------------------------------------------


def test_parse_accept_orders_by_q_then_specificity() -> None:
    assert parse_accept(None) == [("*/*", 1.0)]
    assert parse_accept("text/*;q=0.5, text/html, */*;q=0.1, application/json;q=bogus") == [
        ("text/html", 1.0),
        ("text/*", 0.5),
        ("*/*", 0.1),
        ("application/json", 0.0),
    ]
    assert len(parse_accept(",".join(["a/b"] * 10_000))) == MAX_ACCEPT_ITEMS


@pytest.mark.parametrize(
    ("accept", "offers", "chosen"),
    [
        (None, ["application/json", "text/html"], "application/json"),
        ("text/html", ["application/json", "text/html"], "text/html"),
        ("text/html;q=0, */*", ["text/html", "application/json"], "application/json"),
        ("text/html;q=0", ["text/html"], None),
        ("text/*;q=0.5, application/json;q=0.4", ["application/json", "text/plain"], "text/plain"),
        ("TEXT/HTML", ["text/html"], "text/html"),
        ("image/png", ["text/html"], None),
        ("*/*;q=0.1, application/json", ["text/html", "application/json"], "application/json"),
    ],
)
def test_best_match(accept: str | None, offers: list[str], chosen: str | None) -> None:
    assert best_match(accept, offers) == chosen
    assert accepts(accept, offers[0]) is (best_match(accept, offers[:1]) is not None)


def test_negotiate_through_the_request(client: Any) -> None:
    r = client.get("/negotiate", headers={"accept": "text/html, application/xml;q=0.5"})
    assert r.json() == {"choice": "text/html", "accepts_html": True, "best": "application/xml"}
    assert_problem(client.get("/negotiate", headers={"accept": "image/png"}), 406)


# -- limits ---------------------------------------------------------------------------------------------------------


def test_default_limit_and_limits_middleware(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    assert app.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024
    app.add_middleware(LimitsMiddleware(max_body_bytes=64, max_json_depth=2), priority=50)
    for c in (TestClient(app, raise_server_exceptions=False), RSGITestClient(app)):
        with c:
            assert c.post("/data", content=b"x" * 64).json() == {"len": 64, "limit": 64}
            assert_problem(c.post("/data", content=b"x" * 65), 413)
            assert_problem(c.post("/data", content=iter([b"x" * 40, b"x" * 40])), 413)  # chunked
            assert c.post("/json", content=b"[[1]]", headers={"content-type": "application/json"}).json() == {
                "value": [[1]],
                "depth": 2,
            }
            doc = assert_problem(c.post("/json", content=b"[[[1]]]", headers={"content-type": "application/json"}), 400)
            assert "deeper than 2" in doc["detail"]


def test_limits_middleware_none_keeps_the_route_limit(tmp_path: Path) -> None:
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware())

    @app.post("/r", max_body_bytes=8)
    async def r(request):
        return Response(str(request.max_body_bytes))

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.post("/r", content=b"x" * 8).text == "8"
        assert_problem(c.post("/r", content=b"x" * 9), 413)


def test_limits_middleware_on_a_struct_route_refuses_before_decoding() -> None:
    """The Struct parameter is decoded after middleware: the middleware's limit applies (413, not 422)."""
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware(max_body_bytes=32))
    calls = []

    @app.post("/s")
    async def s(request, body: Signup):
        calls.append(body)
        return {"name": body.name}

    for c in (TestClient(app, raise_server_exceptions=False), RSGITestClient(app)):
        with c:
            assert_problem(c.post("/s", json={"name": "x" * 40, "age": "not even an int"}), 413)
            assert c.post("/s", json={"name": "x", "age": 1}).json() == {"name": "x"}
    assert len(calls) == 2


def test_app_limit_none_means_unlimited(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.max_body_bytes = None
    with TestClient(app) as c:
        assert c.post("/data", content=b"x" * (DEFAULT_MAX_BODY_BYTES + 1)).json()["limit"] is None


# -- JSON nesting depth -------------------------------------------------------------------------------------------


def _reference_depth(data: bytes) -> int:
    """The deepest nesting of ``data`` read byte by byte as JSON is lexed: brackets inside strings do not count."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list(b'[]{}"\\ a,:\n')), max_size=60).map(bytes), st.integers(0, 12))
def test_json_too_deep_matches_a_byte_by_byte_lexer(data: bytes, limit: int) -> None:
    """Any text (valid JSON or not, unterminated strings, stray escapes): the verdict is the byte-by-byte one."""
    assert json_too_deep(data, limit) == (_reference_depth(data) > limit), (data, limit)


json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab\u20ac', max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[{"\\k', max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def _nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_nesting, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_too_deep_counts_the_levels_of_real_json(value: Any) -> None:
    data = msgspec.json.encode(value)
    levels = _nesting(value)
    assert not json_too_deep(data, levels)
    if levels:
        assert json_too_deep(data, levels - 1)


def test_json_depth_check_takes_linear_time() -> None:
    """Ten times the input takes at most ~ten times as long (40x margin) for the shapes that cost most: escaped
    quotes (the old string pattern backtracked quadratically on them: 40 KB took seconds), many short strings,
    bracket-only bodies."""
    for make in (
        lambda n: b'\\"' * n + b"[" * 200,
        lambda n: b'"[' * n,
        lambda n: b"[" + b"[]," * n + b"[]]",
    ):
        json_too_deep(make(3000), 128)  # warm up
        base = min(_timed(json_too_deep, make(3000)) for _ in range(3))
        big = min(_timed(json_too_deep, make(30_000)) for _ in range(2))
        assert big <= 40 * base + 0.05, (big, base)


def _timed(check: Any, data: bytes) -> float:
    start = time.perf_counter()
    check(data, DEFAULT_MAX_JSON_DEPTH)
    return time.perf_counter() - start


def test_json_depth_default_app_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """128 levels by default on every interpreter (no RecursionError involved); the app's ``max_json_depth`` and
    ``GOBSTOPPER_JSON_MAX_DEPTH`` (read when the app is created) replace it; deeper is a 400 problem+json."""
    assert DEFAULT_MAX_JSON_DEPTH == 128

    def nested(levels: int) -> bytes:
        return b"[" * levels + b"]" * levels

    app = make_app(tmp_path)
    for c in (TestClient(app, raise_server_exceptions=False), RSGITestClient(app)):
        with c:
            doc = c.post("/json", content=nested(128), headers={"content-type": "application/json"}).json()
            assert doc["depth"] == 128
            for body in (nested(129), nested(5000), b"[" * 100_000, b'{"a":' * 100_000):
                r = c.post("/json", content=body, headers={"content-type": "application/json"})
                assert "deeper than 128 levels" in assert_problem(r, 400)["detail"]
    app.max_json_depth = 300
    with TestClient(app) as c:
        assert c.post("/json", content=nested(300), headers={"content-type": "application/json"}).json()["depth"] == 300
        assert_problem(c.post("/json", content=nested(301), headers={"content-type": "application/json"}), 400)
    monkeypatch.setenv("GOBSTOPPER_JSON_MAX_DEPTH", "3")
    app = make_app(tmp_path)
    with TestClient(app) as c:
        assert c.post("/json", content=b"[[[1]]]", headers={"content-type": "application/json"}).json()["depth"] == 3
        assert_problem(c.post("/json", content=b"[[[[1]]]]", headers={"content-type": "application/json"}), 400)


def test_datastar_signals_obey_the_nesting_limit() -> None:
    """Signals come from the body or the ``datastar`` query parameter, not through ``request.json()``: the same
    nesting limit applies to both."""
    app = Gobstopper(__name__)

    @app.route("/act", methods=["GET", "POST"])
    async def act(request):
        return {"signals": await request.datastar()}

    deep = '{"a":' * 200 + "1" + "}" * 200
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.post("/act", content=b'{"a":{"b":1}}').json() == {"signals": {"a": {"b": 1}}}
        for r in (c.post("/act", content=deep.encode()), c.get("/act", params={"datastar": deep})):
            assert "deeper than 128 levels" in assert_problem(r, 400)["detail"]


# -- the reference's synchronous parse_multipart ------------------------------------------------------------


def test_reference_parse_multipart_example_runs_as_written(tmp_path) -> None:
    import os

    from gobstopper import Gobstopper, Request
    from gobstopper.testing import TestClient

    app = Gobstopper("profile")
    os.makedirs(tmp_path / "uploads", exist_ok=True)
    cwd = os.getcwd()

    @app.post("/profile")
    async def update_profile(request: Request):
        # Get form data
        body = await request.get_data()
        content_type = request.headers.get("content-type", "")
        from gobstopper.http.multipart import parse_multipart

        form, files = parse_multipart(body, content_type)

        # Access form fields
        name = form.get("name", [""])[0]

        # Access file
        avatar = files.get("avatar")
        if avatar:
            avatar.save(f"uploads/{name}_avatar.jpg")

        return {"name": name, "avatar": bool(avatar)}

    os.chdir(tmp_path)
    try:
        r = TestClient(app).post("/profile", data={"name": "ada"}, files={"avatar": ("me.jpg", b"JPEG")})
    finally:
        os.chdir(cwd)
    assert r.json() == {"name": "ada", "avatar": True}
    assert (tmp_path / "uploads" / "ada_avatar.jpg").read_bytes() == b"JPEG"


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("multipart/form-data", b"", 400),
        ("text/plain", b"x", 415),
        ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", 400),
    ],
)
def test_parse_multipart_refuses_malformed_bodies(content_type: str, body: bytes, status: int) -> None:
    from gobstopper.http.errors import HTTPException
    from gobstopper.http.multipart import parse_multipart

    with pytest.raises(HTTPException) as info:
        parse_multipart(body, content_type)
    assert info.value.status_code == status


def test_parse_multipart_caps_fields() -> None:
    from gobstopper.http.multipart import parse_multipart

    parts = b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(1001))
    with pytest.raises(BadRequest):
        parse_multipart(parts + b"--b--\r\n", "multipart/form-data; boundary=b")
