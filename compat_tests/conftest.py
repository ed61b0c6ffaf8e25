"""Fixtures for the compat suite.

A test module sets ``APP = "module:attr"`` (a module in compat_tests/apps) and takes the ``target`` fixture; it
then runs once per path: asgi, rsgi (in-process) and uvicorn, granian-asgi, granian-rsgi (real servers, marked
``servers``; once per GOBSTOPPER_NATIVE value when gobstopper_rs is built). ``ref`` is the in-process path the
answer is compared with (asgi, or rsgi for asgi itself).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from compat_tests.harness import (
    IN_PROCESS,
    NATIVE_VARIANTS,
    REAL_SERVERS,
    InProcessTarget,
    ServerKey,
    ServerPool,
    ServerTarget,
    Target,
    load_app,
    make_in_process,
)

_WANTED = pytest.StashKey[set[ServerKey]]()


def path_params(real_only: bool = False) -> list[Any]:
    params: list[Any] = [] if real_only else [pytest.param((name, "current"), id=name) for name in IN_PROCESS]
    for kind in REAL_SERVERS:
        for native in NATIVE_VARIANTS:
            pid = kind if len(NATIVE_VARIANTS) == 1 else f"{kind}-native{native}"
            params.append(pytest.param((kind, native), id=pid, marks=pytest.mark.servers))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        # Inputs an in-process client cannot even send (no Host header) run on real servers only.
        real_only = metafunc.definition.get_closest_marker("real_servers_only") is not None
        params = path_params(real_only)
        # A path that cannot express a scenario at all (a client API limit, a server without backpressure)
        # is left out by name, with the reason written next to the marker, instead of a skip at run time.
        excluded = metafunc.definition.get_closest_marker("exclude_paths")
        if excluded is not None:
            params = [p for p in params if p.values[0][0] not in excluded.args]
        metafunc.parametrize("target", params, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Remember which real servers the selected tests need, so the pool starts them together per app.
    wanted: set[ServerKey] = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "target" not in callspec.params:
            continue
        kind, native = callspec.params["target"]
        app = getattr(getattr(item, "module", None), "APP", None)
        if kind in REAL_SERVERS and app:
            wanted.add(ServerKey(kind, app, native))
    config.stash[_WANTED] = wanted


@pytest.fixture(scope="session")
def server_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generator[ServerPool, None, None]:
    pool = ServerPool(tmp_path_factory.mktemp("servers"), request.config.stash.get(_WANTED, set()))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def _targets(server_pool: ServerPool) -> Generator[dict[Any, Target], None, None]:
    """Session cache of targets: in-process clients stay entered (lifespan ran) until the end."""
    cache: dict[Any, Target] = {}
    yield cache
    for t in reversed(cache.values()):
        if isinstance(t, InProcessTarget):
            t.client.__exit__(None, None, None)  # lifespan shutdown / __rsgi_del__
        elif isinstance(t, ServerTarget):
            t.close()


def get_target(cache: dict[Any, Target], pool: ServerPool, name: str, native: str, app_ref: str) -> Target:
    if name in IN_PROCESS:
        key: Any = (name, app_ref)
        if key not in cache:
            target, client = make_in_process(name, load_app(app_ref))
            client.__enter__()
            cache[key] = target
        return cache[key]
    server = pool.get(ServerKey(name, app_ref, native))
    key = (server.key, server.port)
    if key not in cache:
        cache[key] = ServerTarget(server)
    return cache[key]


@pytest.fixture
def target(request: pytest.FixtureRequest, _targets: dict[Any, Target], server_pool: ServerPool) -> Target:
    name, native = request.param
    app_ref = getattr(request.module, "APP", None)
    assert app_ref, f"{request.module.__name__} must set APP = 'module:attr'"
    return get_target(_targets, server_pool, name, native, app_ref)


@pytest.fixture
def ref(request: pytest.FixtureRequest, target: Target, _targets: dict[Any, Target], server_pool: ServerPool) -> Target:
    """The path every answer is compared with: asgi in-process (rsgi when the target is asgi)."""
    other = "rsgi" if target.name == "asgi" else "asgi"
    return get_target(_targets, server_pool, other, "current", request.module.APP)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when == "call":
        t = getattr(item, "funcargs", {}).get("target")
        if isinstance(t, ServerTarget):
            rep.sections.append((f"{t.server.key.slug} log", t.server.log_text() or "(empty)"))
        elif isinstance(t, InProcessTarget):
            exc = getattr(t.client, "last_exception", None)
            if exc is not None:
                rep.sections.append((f"{t.name} last app exception", repr(exc)))


from compat_tests.browser import browser, page  # noqa: F401,E402 - fixtures for page tests
