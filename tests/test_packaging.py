"""What pyproject.toml claims is what the test command runs: the Python versions (classifiers, requires-python,
one virtualenv each made by scripts/setup) and the dependency lower bounds (pinned in
scripts/constraints-lowest.txt for the lowest-versions run)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CONSTRAINTS = ROOT / "scripts" / "constraints-lowest.txt"
#: Extras that are not runtime libraries: the test tools, the native twin (built from this tree), the umbrella.
NOT_RUNTIME = {"dev", "rust", "all"}


def claimed_minors() -> list[tuple[int, int]]:
    found = (re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c) for c in PROJECT["classifiers"])
    return sorted((3, int(m.group(1))) for m in found if m)


def runtime_requirements() -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra, items in PROJECT["optional-dependencies"].items():
        if extra not in NOT_RUNTIME:
            reqs += [Requirement(r) for r in items]
    return reqs


def lowest_pins() -> dict[str, Version]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = Version(version.strip())
    return pins


def test_classifiers_are_consecutive_from_requires_python() -> None:
    minors = claimed_minors()
    assert minors, "no 'Programming Language :: Python :: 3.X' classifiers"
    assert minors == [(3, m) for m in range(minors[0][1], minors[-1][1] + 1)], minors
    spec = SpecifierSet(PROJECT["requires-python"])
    assert str(spec) == f">={minors[0][0]}.{minors[0][1]}", (spec, minors)


def test_this_interpreter_is_a_claimed_version() -> None:
    """The suite runs only on versions the package claims (scripts/setup makes no virtualenv for others)."""
    assert sys.version_info[:2] in claimed_minors()


def test_every_lower_bound_is_pinned_for_the_lowest_run() -> None:
    """Each runtime dependency's ``>=`` bound has its ``==`` pin in scripts/constraints-lowest.txt, and nothing
    else is pinned there: the lower bounds are the versions the lowest run tests."""
    bounds: dict[str, Version] = {}
    for req in runtime_requirements():
        if req.name == "gobstopper":
            continue
        lows = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(lows) == 1, f"{req} needs exactly one lower bound"
        name = req.name.lower()
        assert bounds.setdefault(name, lows[0]) == lows[0], f"{name}: two different lower bounds"
    assert lowest_pins() == bounds
