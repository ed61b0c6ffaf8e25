"""The static resolver: shared vectors run against the Rust resolver and its pure-Python twin (STATIC.md)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gobstopper._native import statics as twin

try:
    import gobstopper_rs
except ImportError:
    if os.environ.get("CI"):
        raise
    gobstopper_rs = None

VECTORS_FILE = Path(__file__).resolve().parents[1] / "src" / "gobstopper_rs" / "tests" / "static_vectors.json"
DATA = json.loads(VECTORS_FILE.read_text())
needs_rust = pytest.mark.skipif(gobstopper_rs is None, reason="gobstopper_rs is not built")


def build_tree(base: Path, files: dict[str, Any], default_mtime_ns: int) -> None:
    links = []
    for rel, spec in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            spec = {"content": spec}
        if "symlink" in spec:
            links.append((path, spec["symlink"]))
        elif spec.get("dir"):
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(spec["content"].encode("utf-8"))
            mtime = spec.get("mtime_ns", default_mtime_ns)
            os.utime(path, ns=(mtime, mtime))
    for path, target in links:
        os.symlink(target, path)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("static_vectors")
    build_tree(tmp, DATA["files"], DATA["mtime_ns"])
    return os.path.realpath(tmp)


Resolver = Callable[..., Any]


def _rust_function(root: str, follow: bool) -> Resolver:
    return lambda *args, **kw: gobstopper_rs.resolve(root, *args, follow_symlinks=follow, **kw)


def _rust_class(root: str, follow: bool) -> Resolver:
    return gobstopper_rs.StaticResolver(root, follow_symlinks=follow).resolve


def _twin_function(root: str, follow: bool) -> Resolver:
    return lambda *args, **kw: twin.resolve(root, *args, follow_symlinks=follow, **kw)


def _twin_class(root: str, follow: bool) -> Resolver:
    return twin.StaticResolver(root, follow_symlinks=follow).resolve


IMPLEMENTATIONS = [
    pytest.param(_rust_function, id="rust", marks=needs_rust),
    pytest.param(_rust_class, id="rust-class", marks=needs_rust),
    pytest.param(_twin_function, id="python"),
    pytest.param(_twin_class, id="python-class"),
]


def as_dict(result: Any) -> dict[str, Any]:
    return {
        "status": result.status,
        "path": result.path,
        "headers": [list(h) for h in result.headers],
        "start": result.start,
        "end": result.end,
    }


def _args(req: dict[str, Any]) -> tuple[Any, ...]:
    return (
        req["rel_path"],
        req["method"],
        req["if_none_match"],
        req["if_modified_since"],
        req["range_header"],
        req["accept_encoding"],
    )


PRECONDITIONS = ("if_match", "if_unmodified_since", "if_range")


def _kwargs(req: dict[str, Any]) -> dict[str, Any]:
    return {name: req[name] for name in PRECONDITIONS}


@pytest.mark.parametrize("make", IMPLEMENTATIONS)
@pytest.mark.parametrize("vector", DATA["vectors"], ids=[v["name"] for v in DATA["vectors"]])
def test_vector(vector: dict[str, Any], make: Callable[[str, bool], Resolver], base: str) -> None:
    resolver = make(os.path.join(base, "static"), vector["follow_symlinks"])
    got = as_dict(resolver(*_args(vector["request"]), **_kwargs(vector["request"])))
    expected = dict(vector["expect"])
    if expected["path"] is not None:
        expected["path"] = os.path.join(base, expected["path"])
    assert got == expected


@pytest.mark.parametrize("impl", [pytest.param("rust", marks=needs_rust), "python"])
def test_missing_root_is_404_for_the_function_and_an_error_for_the_class(impl: str, tmp_path: Path) -> None:
    module = gobstopper_rs if impl == "rust" else twin
    missing = tmp_path / "nope"
    assert module.resolve(str(missing), "a.txt", "GET", None, None, None, None).status == 404
    with pytest.raises(FileNotFoundError):
        module.StaticResolver(str(missing))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        module.StaticResolver(tmp_path / "file")
    assert module.StaticResolver(tmp_path).root == str(tmp_path.resolve())


@pytest.mark.parametrize("impl", [pytest.param("rust", marks=needs_rust), "python"])
def test_five_thousand_ranges_take_linear_time(impl: str, base: str) -> None:
    module = gobstopper_rs if impl == "rust" else twin
    header = "bytes=" + ",".join(f"{i}-{i}" for i in range(5000))
    started = time.process_time()
    result = module.resolve(os.path.join(base, "static"), "a.txt", "GET", None, None, header, None)
    assert time.process_time() - started < 0.05
    assert result.status == 200


@pytest.mark.parametrize(
    "rel_path",
    ["\\\\attacker\\share\\x", "C:\\windows\\win.ini", "..\\secret", "../outside/secret.txt", "CON", "a\x00b"],
)
def test_twin_never_touches_the_file_system_for_refused_paths(
    rel_path: str, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name}{args}")
            raise AssertionError(name)

        return fail

    resolver = twin.StaticResolver(os.path.join(base, "static"))
    for name in ("realpath", "exists", "isdir", "isfile"):
        monkeypatch.setattr(os.path, name, spy(f"os.path.{name}"))
    for name in ("stat", "lstat", "open", "readlink", "scandir", "listdir"):
        monkeypatch.setattr(os, name, spy(f"os.{name}"))
    assert resolver.resolve(rel_path, "GET", None, None, None, None).status == 404
    assert calls == []


def test_twin_result_is_frozen() -> None:
    result = twin.StaticResult(404)
    with pytest.raises(AttributeError):
        result.status = 200  # type: ignore[misc]


@needs_rust
def test_tables_and_helpers_are_shared() -> None:
    assert gobstopper_rs.MIME_TYPES == twin.MIME_TYPES
    assert twin.MIME_TYPES == sorted(twin.MIME_TYPES)


@needs_rust
@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcdef0123456789.-_xABCDEF\u00e9"), max_size=24))
def test_name_helpers_agree(name: str) -> None:
    assert gobstopper_rs.is_fingerprinted(name) == twin.is_fingerprinted(name)
    assert gobstopper_rs.content_type(name) == twin.content_type(name)


# --- random requests against the vector tree: the two implementations give the same answer ------------------

NAMES = sorted({p.split("/")[-1] for p in DATA["files"]} | {"static", "sub", "outside", "..", ".", "", "CON", "a b"})
segment_text = st.one_of(st.sampled_from(NAMES), st.text(max_size=6))
EXISTING = sorted(p.removeprefix("static/") for p in DATA["files"] if p.startswith("static/"))
rel_paths = st.one_of(
    st.sampled_from(EXISTING),
    st.sampled_from(["app.js", "style.css", "a.txt", "lib.js", "sub/app.3f9a1c2b.js", "linkdir/page.html"]),
    st.builds(lambda lead, p: lead + p, st.sampled_from(["/", "//", "../", "sub/../"]), st.sampled_from(EXISTING)),
    st.builds(
        lambda lead, segs: lead + "/".join(segs), st.sampled_from(["", "/", "//"]), st.lists(segment_text, max_size=4)
    ),
)
date_text = st.one_of(
    st.sampled_from(
        [
            "Tue, 14 Nov 2023 22:13:20 GMT",
            "Tue, 14 Nov 2023 22:13:19 GMT",
            "Tuesday, 14-Nov-23 22:13:20 GMT",
            "Tue Nov 14 22:13:20 2023",
            "Thu Nov  1 00:00:00 2029",
            "Sun, 29 Feb 2024 00:00:00 GMT",
            "Sun, 29 Feb 2023 00:00:00 GMT",
            "Mon, 01 Jan 0000 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:60 GMT",
        ]
    ),
    st.text(alphabet=st.sampled_from("SunMoTeNvGT ,:-0123456789"), max_size=30),
)
range_text = st.one_of(
    st.sampled_from(["bytes=0-1", "bytes=-2", "bytes=3-", "bytes=1-1000", "bytes=0-0", "bytes=-100", "bytes=27-"]),
    st.builds(
        lambda unit, parts: f"{unit}={','.join(parts)}",
        st.sampled_from(["bytes", "Bytes", "items", "bytes "]),
        st.lists(
            st.builds(
                lambda a, b: f"{a}-{b}",
                st.sampled_from(["", "0", "1", "2", "5", "26", "27", "99", "0" * 25 + "3", "9" * 30, "\u00b9"]),
                st.sampled_from(["", "0", "1", "3", "26", "27", "9" * 30, " "]),
            ),
            max_size=3,
        ),
    ),
    st.text(alphabet=st.sampled_from("bytes=-,0123 \t"), max_size=15),
)
encoding_text = st.one_of(
    st.sampled_from(["br", "gzip", "gzip, br", "br;q=0, gzip", "*"]),
    st.lists(
        st.builds(
            lambda c, q: c + q,
            st.sampled_from(["br", "gzip", "x-gzip", "*", "identity", "BR", " deflate", ""]),
            st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=1.0", ";q=1.001", ";q=2", ";Q=0", "; q=0.000", ";q"]),
        ),
        max_size=4,
    ).map(", ".join),
    st.text(max_size=10),
)
etag_text = st.one_of(
    st.sampled_from(['W/"5-17979cfe3d85cd15"', '"5-17979cfe3d85cd15"', "*", 'W/"5-0"', '"5-17979cfe3d85cd15-gz"']),
    st.builds(lambda a, b: f"{a}, {b}", st.sampled_from(['"x"', "*", ""]), st.sampled_from(['"5-17979cfe3d85cd15"'])),
    st.text(max_size=10),
)


@needs_rust
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rel_path=rel_paths,
    method=st.sampled_from(["GET", "HEAD", "GET", "GET", "HEAD", "POST"]),
    inm=st.none() | etag_text,
    ims=st.none() | date_text,
    rng=st.none() | range_text,
    ae=st.none() | encoding_text,
    follow=st.booleans(),
    im=st.none() | etag_text,
    ius=st.none() | date_text,
    ir=st.none() | etag_text | date_text,
)
def test_random_requests_agree(
    base: str,
    rel_path: str,
    method: str,
    inm: str | None,
    ims: str | None,
    rng: str | None,
    ae: str | None,
    follow: bool,
    im: str | None,
    ius: str | None,
    ir: str | None,
) -> None:
    root = os.path.join(base, "static")
    args = (rel_path, method, inm, ims, rng, ae)
    kwargs = {"if_match": im, "if_unmodified_since": ius, "if_range": ir}
    expected = as_dict(twin.resolve(root, *args, follow_symlinks=follow, **kwargs))
    assert as_dict(gobstopper_rs.resolve(root, *args, follow_symlinks=follow, **kwargs)) == expected
    rs_class = gobstopper_rs.StaticResolver(root, follow_symlinks=follow)
    assert as_dict(rs_class.resolve(*args, **kwargs)) == expected
    if expected["path"] is not None and not follow:
        assert expected["path"].startswith(root + os.sep)
