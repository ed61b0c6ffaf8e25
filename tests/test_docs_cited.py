"""Every document the code cites is in the repository, with the anchor it cites.

A citation is a path ``docs/<name>.md`` (in a comment, a docstring, a test or a document; inside ``docs/`` also a
relative Markdown link such as ``[notes](rsgi-notes.md)``), optionally followed by anchors:

* ``§1.2``, ``§4-5``: a section, i.e. a Markdown heading numbered ``1.2`` (``### 1.2 The scope``, ``## 4. ...``);
* ``G13``, ``G13-G15``: a fact label of ``docs/rsgi-notes.md`` (a line starting ``**G13.**``);
* ``row 36``, ``rows 12–28, 30``, ``item 18``: a numbered table row (``| 36 | ...``) or list item (``18. ...``);
* ``rule 3``: a numbered list item (``3. ...``), such as the layering rules of ``docs/architecture.md``.

So ``(docs/rsgi-notes.md, G13)``, ``docs/hardening.md rows 19–26`` and ```docs/design.md` §4`` are checked.
A file that cites ``docs/rsgi-notes.md`` (or ``docs/hardening.md``) may use the short form ``(G13)`` (or
``row 44``) further on; those short forms are checked against that document too, and a fact label in a file
that never names ``docs/rsgi-notes.md`` is an error. Finally, no citation of the design notes that used to live
outside the repository may remain (their upper-case names, without ``docs/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELF = Path(__file__).resolve()

#: Where citations are looked for, relative to the repository root.
SCANNED = ("src", "adapters", "tests", "compat_tests", "benchmarks", "examples", "docs", "scripts", "README.md")
SKIPPED_DIRS = {".git", ".venv", "__pycache__", "target", "node_modules", "test-artifacts", "build", "dist"}
BINARY_SUFFIXES = {".so", ".pyd", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".gz", ".br", ".bin", ".whl", ".woff2"}

#: The names of the notes that lived outside the repository (case matters: ``docs/design.md`` is fine). The
#: character classes keep a plain grep for those names from finding this file.
OUTSIDE_NOTES = re.compile(
    r"\b(?:RSGI[-]NOTES|HARD[E]NING|UPSTR[E]AM(?:-BEHAVIOUR)?|DESIGN[.]md|DESIGN\s*§|PERF[O]RMANCE[.]md|STYLE[.]md)(?!\w)"
)

CITATION = re.compile(r"(?<![\w/.-])docs/([A-Za-z0-9_.-]+\.md)\b`?")
LINK = re.compile(r"\]\(([A-Za-z0-9_.-]+\.md)(?:#[^)]*)?\)")
SEPARATOR = re.compile(r"(?:[\s,]|\band\b)*")
NUMBER_RANGE = r"\d+(?:\s?[-–]\s?\d+)?"
ANCHOR = re.compile(
    r"§\s?(?P<sec>\d+(?:\.\d+)*)(?:\s?[-–]\s?§?(?P<sec_end>\d+(?:\.\d+)*))?"
    r"|\bG(?P<g>\d+)(?:\s?[-–]\s?G?(?P<g_end>\d+))?\b"
    rf"|\b(?P<kind>[Rr]ows?|[Ii]tems?|[Rr]ules?)\s+(?P<nums>{NUMBER_RANGE}(?:\s?(?:,|\band\b)\s?{NUMBER_RANGE})*)\b"
)
BARE_LABEL = re.compile(r"\bG(\d{1,2})(?:\s?[-–]\s?G?(\d{1,2}))?\b")
BARE_ROWS = re.compile(rf"\b[Rr]ows?\s+({NUMBER_RANGE}(?:\s?(?:,|\band\b)\s?{NUMBER_RANGE})*)\b")

HEADING = re.compile(r"^#{1,6}\s+§?\s?(\d+(?:\.\d+)*)(?:[.\s]|$)", re.M)
LABEL_LINE = re.compile(r"^\*\*(G\d+)\.?\*\*", re.M)
TABLE_ROW = re.compile(r"^\|\s*\**(\d+)\**\s*\|", re.M)
LIST_ITEM = re.compile(r"^(\d+)\.\s", re.M)

NOTES = "rsgi-notes.md"
TABLE_DOC = "hardening.md"


@dataclass
class Anchors:
    """What a document offers to cite."""

    sections: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    rows: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, text: str) -> Anchors:
        return cls(
            sections=set(HEADING.findall(text)),
            labels=set(LABEL_LINE.findall(text)),
            rows=set(TABLE_ROW.findall(text)) | set(LIST_ITEM.findall(text)),
            items=set(LIST_ITEM.findall(text)) | set(TABLE_ROW.findall(text)),
        )


def _numbers(spec: str) -> list[str]:
    """``"12–14, 20"`` -> ``["12", "13", "14", "20"]``."""
    found: list[str] = []
    for part in re.split(r"\s?(?:,|\band\b)\s?", spec):
        bounds = re.split(r"\s?[-–]\s?", part.strip())
        if len(bounds) == 2 and int(bounds[0]) < int(bounds[1]):
            found += [str(n) for n in range(int(bounds[0]), int(bounds[1]) + 1)]
        else:
            found += [b for b in bounds if b]
    return found


def _sections(start: str, end: str | None) -> list[str]:
    if end is None:
        return [start]
    if "." not in start and "." not in end and int(start) < int(end):
        return [str(n) for n in range(int(start), int(end) + 1)]
    return [start, end]


def _missing(match: re.Match[str], anchors: Anchors) -> list[str]:
    """The anchors one ``ANCHOR`` match names that the document does not have."""
    if match["sec"] is not None:
        return [f"§{s}" for s in _sections(match["sec"], match["sec_end"]) if s not in anchors.sections]
    if match["g"] is not None:
        return [
            f"G{n}"
            for n in _numbers(match["g"] + ("-" + match["g_end"] if match["g_end"] else ""))
            if f"G{n}" not in anchors.labels
        ]
    kind = match["kind"].lower().rstrip("s")
    have = anchors.items if kind == "item" else anchors.rows
    return [f"{kind} {n}" for n in _numbers(match["nums"]) if n not in have]


def files_under(root: Path) -> list[Path]:
    found: list[Path] = []
    for name in SCANNED:
        top = root / name
        if top.is_file():
            found.append(top)
            continue
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            rel_parts = path.relative_to(root).parts
            if any(part in SKIPPED_DIRS or part.endswith(".egg-info") or part.startswith(".") for part in rel_parts):
                continue
            if path.is_file() and path.suffix not in BINARY_SUFFIXES and path.resolve() != SELF:
                found.append(path)
    return found


def check(root: Path) -> list[str]:
    """Every broken citation under ``root``, as ``"path:line: message"`` (an empty list when all is well)."""
    docs_dir = root / "docs"
    cache: dict[str, Anchors | None] = {}

    def anchors(name: str) -> Anchors | None:
        if name not in cache:
            path = docs_dir / name
            cache[name] = Anchors.of(path.read_text(encoding="utf-8")) if path.is_file() else None
        return cache[name]

    problems: list[str] = []
    for path in files_under(root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(root).as_posix()
        in_docs = path.parent == docs_dir
        cited: set[str] = {path.name} if in_docs else set()
        consumed: dict[int, list[tuple[int, int]]] = {}  # line number -> spans of checked anchors
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            for bad in OUTSIDE_NOTES.finditer(line):
                problems.append(f"{rel}:{number}: {bad.group(0)!r} names a note outside the repository; cite docs/")
            targets = [(m.group(1), m.end()) for m in CITATION.finditer(line)]
            if in_docs:
                targets += [(m.group(1), m.end()) for m in LINK.finditer(line)]
            for name, end in targets:
                cited.add(name)
                doc = anchors(name)
                if doc is None:
                    problems.append(f"{rel}:{number}: docs/{name} does not exist")
                    continue
                pos = end
                while True:
                    pos = SEPARATOR.match(line, pos).end()  # type: ignore[union-attr]
                    anchor = ANCHOR.match(line, pos)
                    if anchor is None:
                        break
                    consumed.setdefault(number, []).append(anchor.span())
                    problems += [f"{rel}:{number}: docs/{name} has no {a}" for a in _missing(anchor, doc)]
                    pos = anchor.end()
        # Short forms (G13, row 44) further on in a file that cites the document by path.
        for number, line in enumerate(lines, 1):
            spans = consumed.get(number, [])

            def free(m: re.Match[str], spans: list[tuple[int, int]] = spans) -> bool:
                return not any(a <= m.start() < b for a, b in spans)

            for label in filter(free, BARE_LABEL.finditer(line)):
                notes = anchors(NOTES)
                if NOTES not in cited:
                    problems.append(f"{rel}:{number}: {label.group(0)} without a citation of docs/{NOTES} in the file")
                elif notes is not None:
                    wanted = _numbers(label.group(1) + ("-" + label.group(2) if label.group(2) else ""))
                    problems += [
                        f"{rel}:{number}: docs/{NOTES} has no G{n}" for n in wanted if f"G{n}" not in notes.labels
                    ]
            if TABLE_DOC in cited:
                table = anchors(TABLE_DOC)
                for rows in filter(free, BARE_ROWS.finditer(line)):
                    if table is not None:
                        problems += [
                            f"{rel}:{number}: docs/{TABLE_DOC} has no row {n}"
                            for n in _numbers(rows.group(1))
                            if n not in table.rows
                        ]
    return problems


# -- the repository ----------------------------------------------------------------------------------------------


def test_every_cited_document_and_anchor_exists() -> None:
    problems = check(ROOT)
    assert problems == [], "\n".join(problems)


def test_the_documents_the_code_relies_on_are_cited() -> None:
    cited = {m.group(1) for path in files_under(ROOT) for m in CITATION.finditer(path.read_text(errors="replace"))}
    assert {"design.md", "rsgi-notes.md", "hardening.md", "performance.md", "upstream.md"} <= cited


def test_the_readme_lists_the_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"\]\(docs/([a-z-]+\.md)\)", readme))
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= listed


# -- the checker itself ------------------------------------------------------------------------------------------

NOTES_TEXT = """# Notes

## 1. Scope

### 1.2 The scope

**G2.** A fact.

**G3.** Another fact.
"""

TABLE_TEXT = """# Table

## 0. Findings

### 0.4 A finding

| # | input |
|---|---|
| 1 | a |
| 2 | b |
| 3 | c |
"""

GOOD = '''"""Cites (docs/rsgi-notes.md §1.2, G2-G3) and docs/hardening.md rows 1–3,
row 2 (docs/hardening.md row 2) and `docs/hardening.md` §0.4."""
# the short forms: (G3), row 1
'''


def tree(tmp_path: Path, source: str, name: str = "src/mod.py", extra: dict[str, str] | None = None) -> Path:
    files = {"docs/rsgi-notes.md": NOTES_TEXT, "docs/hardening.md": TABLE_TEXT, name: source, **(extra or {})}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_checker_accepts_good_citations(tmp_path: Path) -> None:
    assert check(tree(tmp_path, GOOD)) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# see docs/missing.md\n", "docs/missing.md does not exist"),
        ("# see docs/hardening.md §7\n", "docs/hardening.md has no §7"),
        ("# see docs/hardening.md §0.5\n", "docs/hardening.md has no §0.5"),
        ("# see docs/hardening.md row 9\n", "docs/hardening.md has no row 9"),
        ("# see docs/hardening.md rows 2–5\n", "docs/hardening.md has no row 4"),
        ("# see (docs/rsgi-notes.md, G13)\n", "docs/rsgi-notes.md has no G13"),
        ("# see (docs/rsgi-notes.md §1.5, G2)\n", "docs/rsgi-notes.md has no §1.5"),
        ("# see docs/rsgi-notes.md\n# later (G7)\n", "docs/rsgi-notes.md has no G7"),
        ("# a bare (G2) with no path in the file\n", "G2 without a citation of docs/rsgi-notes.md"),
        ("# cites docs/hardening.md\n# then row 12\n", "docs/hardening.md has no row 12"),
        ("# (RSGI" + "-NOTES G2)\n", "names a note outside the repository"),
        ("# HARD" + "ENING row 3\n", "names a note outside the repository"),
        ("# see DESIGN" + ".md §2\n", "names a note outside the repository"),
        ("# UPSTR" + "EAM-BEHAVIOUR §7.2 item 18\n", "names a note outside the repository"),
        ("# see PERF" + "ORMANCE.md\n", "names a note outside the repository"),
    ],
)
def test_checker_reports_made_up_citations(tmp_path: Path, source: str, expected: str) -> None:
    problems = check(tree(tmp_path, source))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("src/mod.py:") for p in problems), problems


def test_checker_follows_relative_links_inside_docs(tmp_path: Path) -> None:
    extra = {"docs/guide.md": "See [the notes](rsgi-notes.md), G2, and [nothing](nowhere.md).\n"}
    problems = check(tree(tmp_path, GOOD, extra=extra))
    assert problems == ["docs/guide.md:1: docs/nowhere.md does not exist"]


def test_checker_reads_documents_and_readme(tmp_path: Path) -> None:
    problems = check(tree(tmp_path, "See `docs/hardening.md` row 4.\n", name="README.md"))
    assert problems == ["README.md:1: docs/hardening.md has no row 4"]
