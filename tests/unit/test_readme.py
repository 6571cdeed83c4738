"""The README stays a front door: short, the test command is CI's, every docs page is linked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
MAX_LINES = 250


def test_ci_runs_the_readme_test_command() -> None:
    assert "```sh\nscripts/test\n```" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == "scripts/test"


def test_the_readme_runs_the_main_job() -> None:
    assert "```sh\nscripts/run\n```" in README


def test_the_readme_is_short() -> None:
    assert len(README.splitlines()) <= MAX_LINES


def test_every_docs_page_is_linked_from_the_readme() -> None:
    pages = {path.name for path in DOCS.glob("*.md")}
    linked = set(re.findall(r"\(docs/([\w.-]+\.md)[#)]", README))
    assert pages <= linked


def _anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
    return {_anchor(heading) for heading in headings}


LINK = re.compile(r"\]\(([\w./-]*\.md|)(?:#([\w-]+))?\)")


def test_links_between_pages_point_at_files_and_headings_that_exist() -> None:
    sources = [ROOT / "README.md", *DOCS.glob("*.md")]
    broken = []
    for source in sources:
        for target, anchor in LINK.findall(source.read_text()):
            page = (source.parent / target) if target else source
            if not page.exists() or (anchor and anchor not in _anchors(page)):
                broken.append(f"{source.name}: {target}#{anchor}")
    assert not broken, broken


def test_no_table_cell_is_a_wall() -> None:
    sources = [ROOT / "README.md", *DOCS.glob("*.md")]
    cells = [
        (source.name, cell.strip()[:60])
        for source in sources
        for line in source.read_text().splitlines()
        if line.startswith("|")
        for cell in line.split("|")
        if len(cell) > 300
    ]
    assert not cells, cells
