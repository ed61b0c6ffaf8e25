"""Every Python block in docs/*.md and README.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
DOCS = [*sorted(ROOT.glob("docs/*.md")), ROOT / "README.md"]


def blocks() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for i, match in enumerate(BLOCK.finditer(path.read_text())):
            found.append((f"{path.name}#{i}", match.group(1)))
    return found


def test_the_docs_have_examples() -> None:
    assert len(blocks()) >= 8


@pytest.mark.parametrize(("where", "code"), blocks(), ids=[w for w, _ in blocks()])
def test_doc_example_runs(where: str, code: str) -> None:
    # dont_inherit: a block runs as written, without this module's `from __future__ import annotations`.
    exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "docs_example"})
