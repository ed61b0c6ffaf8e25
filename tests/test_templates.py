"""Templates: the reference's examples as written, the request-aware context, lookup order, streaming, fragments,
reloading, and what apps without templates pay (nothing)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import pytest

from gobstopper import Blueprint, Gobstopper, JSONResponse, MemorySessionStorage, SecurityMiddleware, notification
from gobstopper.http.helpers import stream_template
from gobstopper.templates.engine import TemplateEngine
from gobstopper.testing import TestClient
from tests._streams import run_asgi, run_rsgi


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    templates = tmp_path / "templates"
    write(templates, "index.html", "<h1>{{ title }}</h1><p>{{ message }}</p>")
    return templates


# -- the reference's examples ---------------------------------------------------------------------------------


def test_readme_init_templates_runs_without_a_templates_folder() -> None:
    app = Gobstopper(__name__, debug=True)
    app.init_templates()  # Enable Jinja2 templates (the README's second line)
    assert app.template_engine is not None
    assert app.template_engine.auto_reload  # debug app: edits are seen


def test_app_core_guide_init_variants(folder: Path) -> None:
    app = Gobstopper(__name__)
    with pytest.raises(ImportError, match="Jinja2 only"):
        app.init_templates(str(folder), use_rust=True)
    assert app.template_engine is None
    app.init_templates(str(folder), use_rust=False)
    app.init_templates(str(folder), auto_reload=False, cache_size=1000, enable_streaming=True)
    assert app.template_engine.env.cache.capacity == 1000
    assert not app.template_engine.auto_reload


def test_an_explicit_folder_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Gobstopper(__name__).init_templates(str(tmp_path / "nope"))


def test_render_template_and_the_guides_context_processors_filters_and_globals(folder: Path) -> None:
    write(
        folder, "dashboard.html", "{{ app_name }} {{ online_users }} {{ price | currency }} {{ get_config('API_URL') }}"
    )
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    app.config["API_URL"] = "https://api.example"

    async def count_online_users() -> int:
        return 3

    @app.context_processor
    def inject_globals():
        return {"app_name": "MyApp", "debug": app.config.get("DEBUG", False)}

    @app.context_processor
    async def inject_user_data():
        return {"online_users": await count_online_users()}

    @app.template_filter("currency")
    def currency_filter(value):
        return f"${value:.2f}"

    @app.template_global("get_config")
    def get_config_value(key):
        return app.config.get(key)

    @app.get("/")
    async def index(request):
        return await app.render_template("index.html", title="Home Page", message="Hello World!")

    @app.get("/dashboard")
    async def dashboard(request):
        return await app.render_template("dashboard.html", price=3)

    client = TestClient(app)
    r = client.get("/")
    assert (r.status_code, r.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert r.text == "<h1>Home Page</h1><p>Hello World!</p>"
    assert client.get("/dashboard").text == "MyApp 3 $3.00 https://api.example"


def test_error_handlers_render_templates_with_a_status(folder: Path) -> None:
    write(folder, "errors/404.html", "missing {{ path }}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))

    @app.error_handler(404)
    async def not_found(request, error):
        return await app.render_template("errors/404.html", path=request.path), 404

    @app.error_handler(403)
    async def forbidden(request, error):
        return JSONResponse({"error": "Access denied"}, status=403)

    r = TestClient(app).get("/nowhere")
    assert (r.status_code, r.text) == (404, "missing /nowhere")


# -- context ----------------------------------------------------------------------------------------------------


def test_request_session_csrf_token_notifications_and_url_for_in_templates(folder: Path) -> None:
    write(
        folder,
        "form.html",
        "{{ request.path }}|{{ session.get('user') }}|{{ url_for('login') }}|"
        "{% for c, m in get_notifications(with_categories=True) %}{{ c }}:{{ m }}{% endfor %}|"
        '<input name="csrf_token" value="{{ csrf_token() }}">|{{ csrf_token }}',
    )
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32, session_storage=MemorySessionStorage()), priority=100)

    @app.get("/login")
    async def login(request):
        request.session["user"] = "ann"
        notification(request, "welcome", "success")
        return await app.render_template("form.html")

    @app.post("/login")
    async def post_login(request):
        return {"ok": True}

    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/login").text
        path, user, url, notes, field, bare = page.split("|")
        assert (path, user, url, notes) == ("/login", "ann", "/login", "success:welcome")
        token = re.search(r'value="([^"]+)"', field).group(1)  # type: ignore[union-attr]
        assert len(token) > 40 and len(bare) > 40  # both spellings give a token
        r = client.post("/login", data={"csrf_token": token}, headers={"origin": "https://testserver"})
        assert r.status_code == 200, r.text  # the token from the template is accepted
        r = client.post("/login", data={"csrf_token": "forged"}, headers={"origin": "https://testserver"})
        assert r.status_code == 403


def test_context_processors_may_take_the_request_and_render_keywords_win(folder: Path) -> None:
    write(folder, "who.html", "{{ who }} {{ title }}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))

    @app.context_processor
    def from_request(request):
        return {"who": request.header("x-user"), "title": "processor"}

    @app.get("/")
    async def index(request):
        return await app.render_template("who.html", title="keyword")

    assert TestClient(app).get("/", headers={"x-user": "bob"}).text == "bob keyword"


def test_autoescape_for_html_names_and_strings_not_for_text(folder: Path) -> None:
    write(folder, "mail.txt", "Hi {{ name }}")
    write(folder, "page.html", "Hi {{ name }}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))

    @app.get("/<kind>")
    async def show(request, kind):
        if kind == "string":
            return await app.render_template_string("Hi {{ name }}", name="<b>")
        return await app.render_template(f"{'mail.txt' if kind == 'txt' else 'page.html'}", name="<b>")

    client = TestClient(app)
    assert client.get("/html").text == "Hi &lt;b&gt;"
    assert client.get("/string").text == "Hi &lt;b&gt;"
    r = client.get("/txt")
    assert (r.text, r.headers["content-type"]) == ("Hi <b>", "text/plain; charset=utf-8")


# -- blueprints ---------------------------------------------------------------------------------------------------


def test_blueprint_folders_come_after_the_apps_in_registration_order(tmp_path: Path, folder: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(folder, "shared.html", "app")
    write(first, "shared.html", "first")
    write(first, "only_first.html", "first only")
    write(second, "only_first.html", "second")
    write(second, "only_second.html", "second only")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    bp1 = Blueprint("one", url_prefix="/one", template_folder=str(first))
    bp2 = Blueprint("two", url_prefix="/two", template_folder=str(second))

    @bp1.get("/<name>")
    async def one(request, name):
        return await app.render_template(name)

    app.register_blueprint(bp1)
    app.register_blueprint(bp2)  # registered after init_templates: still searched
    client = TestClient(app)
    assert client.get("/one/shared.html").text == "app"
    assert client.get("/one/only_first.html").text == "first only"
    assert client.get("/one/only_second.html").text == "second only"


def test_blueprint_context_processors_apply_to_their_routes_only(folder: Path) -> None:
    write(folder, "x.html", "{{ section | default('none') }} {{ 7 is lucky }} {{ 'a' | shout }}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    admin = Blueprint("admin", url_prefix="/admin")
    inner = Blueprint("inner", url_prefix="/inner")

    @admin.context_processor
    def section():
        return {"section": "admin"}

    @admin.template_test("lucky")
    def lucky(n):
        return n == 7

    @admin.template_filter
    def shout(s):
        return s.upper() + "!"

    @admin.get("/")
    async def admin_index(request):
        return await app.render_template("x.html")

    @inner.get("/")
    async def inner_index(request):
        return await app.render_template("x.html")

    @app.get("/")
    async def index(request):
        return await app.render_template("x.html")

    admin.register_blueprint(inner)
    app.register_blueprint(admin)
    client = TestClient(app)
    assert client.get("/admin/").text == "admin True A!"
    assert client.get("/admin/inner/").text == "admin True A!"  # children inherit, as in Flask
    assert client.get("/").text == "none True A!"  # filters and tests are app-wide


# -- streaming, fragments, reloading ------------------------------------------------------------------------------


def _rows_app(folder: Path) -> tuple[Gobstopper, dict[str, int]]:
    write(folder, "rows.html", "<table>{% for r in rows %}<tr><td>{{ r }}</td></tr>{% endfor %}</table>")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    produced = {"rows": 0}

    def rows(n: int):
        for i in range(n):
            produced["rows"] = i + 1
            yield i

    @app.get("/rows/<int:n>")
    async def show(request, n):
        return await app.render_template("rows.html", stream=True, rows=rows(n))

    @app.get("/stream/<int:n>")
    async def show2(request, n):
        return await app.stream_template("rows.html", rows=range(n))

    return app, produced


def test_streamed_template_sends_the_whole_page_in_chunks(folder: Path) -> None:
    app, _ = _rows_app(folder)
    expected = "<table>" + "".join(f"<tr><td>{i}</td></tr>" for i in range(10_000)) + "</table>"
    client = TestClient(app)
    r = client.get("/rows/10000")
    assert (r.status_code, r.headers["content-type"], r.text) == (200, "text/html; charset=utf-8", expected)
    assert "content-length" not in r.headers
    assert client.get("/stream/10000").text == expected


@pytest.mark.parametrize("runner", ["asgi", "rsgi"])
def test_rendering_stops_when_the_client_leaves(folder: Path, runner: str) -> None:
    app, produced = _rows_app(folder)

    def first_chunk(run: Any) -> bool:
        return len(run.body) > 0

    async def main() -> None:
        if runner == "asgi":
            await run_asgi(app, "/rows/10000000", until=first_chunk)
        else:
            await run_rsgi(app, "/rows/10000000", until=first_chunk)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert 0 < produced["rows"] < 1_000_000


def test_render_block_gives_a_fragment(folder: Path) -> None:
    write(folder, "page.html", "<html>{% block count %}<div id='count'>{{ count }}</div>{% endblock %}</html>")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))

    @app.get("/fragment")
    async def fragment(request):
        return await app.render_block("page.html", "count", count=3)

    @app.get("/missing")
    async def missing(request):
        return await app.render_block("page.html", "nope")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/fragment")
    assert (r.text, r.headers["content-type"]) == ("<div id='count'>3</div>", "text/html; charset=utf-8")
    assert client.get("/missing").status_code == 500


def test_auto_reload_in_debug_sees_an_edit_and_production_does_not_stat(folder: Path) -> None:
    for debug in (True, False):
        page = write(folder, "live.html", "v1")
        app = Gobstopper(__name__, debug=debug)
        app.init_templates(str(folder))

        @app.get("/")
        async def index(request, app=app):
            return await app.render_template("live.html")

        client = TestClient(app)
        assert client.get("/").text == "v1"
        page.write_text("v2")
        os.utime(page, (time.time() + 5, time.time() + 5))  # a newer mtime, whatever the clock's resolution
        assert client.get("/").text == ("v2" if debug else "v1")
        assert app.template_engine.env.auto_reload is debug


def test_async_environment_for_templates_that_await(folder: Path) -> None:
    write(folder, "a.html", "{{ fetch() }}{% for x in items() %}{{ x }}{% endfor %}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder), enable_async=True)

    async def fetch() -> str:
        await asyncio.sleep(0)
        return "fetched"

    async def items():
        yield 1
        yield 2

    @app.get("/")
    async def index(request):
        return await app.render_template("a.html", fetch=fetch, items=items)

    @app.get("/s")
    async def streamed(request):
        return await app.render_template("a.html", stream=True, fetch=fetch, items=items)

    client = TestClient(app)
    assert client.get("/").text == "fetched12"
    assert client.get("/s").text == "fetched12"


def test_render_before_init_is_a_clear_error() -> None:
    app = Gobstopper(__name__)
    with pytest.raises(RuntimeError, match="init_templates"):
        asyncio.run(app.render_template("x.html"))


def test_missing_template_raises_template_not_found(folder: Path) -> None:
    app = Gobstopper(__name__)
    app.init_templates(str(folder))
    with pytest.raises(jinja2.TemplateNotFound):
        asyncio.run(app.render_template("absent.html"))


def test_template_engine_api_of_the_reference(tmp_path: Path, folder: Path) -> None:
    extra = tmp_path / "extra"
    write(extra, "more.html", "{{ 2 | double }} {{ greet() }}")
    engine = TemplateEngine(folder, auto_reload=False, cache_size=10)
    engine.add_search_path(extra)
    engine.add_filter("double", lambda v: v * 2)
    engine.add_global("greet", lambda: "hi")
    assert asyncio.run(engine.render_template_async("more.html")) == "4 hi"
    with pytest.raises(KeyError):
        engine.render_block("index.html", "x")


def test_apps_without_templates_never_import_jinja2() -> None:
    code = (
        "import sys\n"
        "from gobstopper import Gobstopper\n"
        "from gobstopper.testing import TestClient\n"
        "app = Gobstopper('x')\n"
        "@app.get('/')\n"
        "async def index(request):\n"
        "    return 'hi'\n"
        "assert TestClient(app).get('/').text == 'hi'\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 imported'\n"
        "assert not app.middleware\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_the_stream_template_helper_streams_for_the_current_app(folder: Path) -> None:
    (folder / "rows.html").write_text("{% for i in range(n) %}<p>{{ i }}</p>{% endfor %}")
    app = Gobstopper(__name__)
    app.init_templates(str(folder))

    @app.get("/rows")
    async def rows(request):
        return await stream_template("rows.html", n=3)

    r = TestClient(app).get("/rows")
    assert (r.status_code, r.text) == (200, "<p>0</p><p>1</p><p>2</p>")
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_the_stream_template_helper_outside_a_request_says_why() -> None:
    with pytest.raises(RuntimeError, match="init_templates"):
        asyncio.run(stream_template("x.html"))
