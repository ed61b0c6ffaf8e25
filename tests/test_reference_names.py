"""Every name the reference documents imports (issue 11, item 10); the tables live in
``compat_tests/apps/reference_names.py`` (also served by the compat scenario ``test_compat_reference_names.py``)."""

from __future__ import annotations

import importlib

import pytest

from compat_tests.harness import load_app

load_app("reference_names:app")
import reference_names as ref  # noqa: E402  (compat_tests/apps is on sys.path now)

SUPPORTED = [(module, name) for module, names in ref.SUPPORTED.items() for name in names or ("",)]


@pytest.mark.parametrize(("module", "name"), SUPPORTED, ids=[f"{m}:{n}" for m, n in SUPPORTED])
def test_documented_name_imports(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    if name:
        assert hasattr(mod, name), f"from {module} import {name} fails"


@pytest.mark.parametrize(("module", "name"), list(ref.NOT_PROVIDED))
def test_not_provided_names_are_absent_on_purpose(module: str, name: str) -> None:
    assert ref.NOT_PROVIDED[(module, name)]  # a reason is written down
    assert not ref.importable(module, name)


def test_tables_do_not_overlap() -> None:
    assert not set(SUPPORTED) & set(ref.NOT_PROVIDED)


def test_static_middleware_names_are_one_implementation() -> None:
    from gobstopper.middleware import (
        HybridStaticMiddleware,
        RustStaticMiddleware,
        StaticFileMiddleware,
        StaticMiddleware,
    )

    assert StaticMiddleware is StaticFileMiddleware is RustStaticMiddleware is HybridStaticMiddleware
