"""One owner per table: only the owner writes it; other services read it only as documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
SERVICES = ("collector", "processor", "maintenance")
EXCEPTIONS = {
    ("plugin_runs", "services/maintenance/cleanup.py"),
    ("schedule_runs", "services/maintenance/cleanup.py"),
}
"""Writes by a service that does not own the table, left to do (docs/architecture.md)."""
_WRITE = re.compile(r"\b(?:INSERT INTO|UPDATE|DELETE FROM|TRUNCATE(?: TABLE)?)\s+(\w+)")
_TARGET = re.compile(r"\bTarget\(\s*\"(\w+)\"")
_READ = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)")
_CODE = re.compile(r"`([^`]+)`")


def _tables() -> set[str]:
    sql = "".join(path.read_text() for path in (ROOT / "streams/servers/db/sql").glob("*.sql"))
    return set(re.findall(r"CREATE TABLE (\w+)", sql)) | {"schema_migrations"}


def _accesses() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(table, module) pairs of the SQL in services/ and streams/: writes, then reads."""
    tables, writes, reads = _tables(), set(), set()
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("streams/**/*.py")]):
        text, module = path.read_text(), str(path.relative_to(ROOT))
        written = {*_WRITE.findall(text), *_TARGET.findall(text)} & tables
        writes |= {(table, module) for table in written}
        reads |= {(table, module) for table in set(_READ.findall(text)) & tables - written}
    return writes, reads


def _rows(heading: str) -> list[list[str]]:
    """The cells of the table under a heading of docs/architecture.md (header row left out)."""
    text = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def _owners() -> dict[str, tuple[str, set[str]]]:
    """Each table's owner (a service, or another word) and the modules said to write it."""
    owners = {}
    for table, owner, written in _rows("Tables and their owners"):
        modules = {code for code in _CODE.findall(written) if code.endswith(".py")}
        owners[table.strip("`")] = (owner.split(",")[0], modules)
    return owners


def _service(module: str) -> str | None:
    parts = module.split("/")
    return parts[1] if parts[0] == "services" and parts[1] in SERVICES else None


def test_every_table_has_one_documented_owner() -> None:
    owners = _owners()
    assert set(owners) == _tables()
    assert all(
        owner in SERVICES or owner.startswith(("every", "the")) for owner, _ in owners.values()
    )


def test_only_the_owner_writes_a_table() -> None:
    writes, _ = _accesses()
    owners = _owners()
    undocumented = sorted(pair for pair in writes if pair[1] not in owners[pair[0]][1])
    assert not undocumented, f"writes missing from docs/architecture.md: {undocumented}"
    strangers = sorted(
        (table, module)
        for table, module in writes
        if _service(module) not in (None, owners[table][0])
    )
    assert strangers == sorted(EXCEPTIONS), "a service writes a table it does not own"


def test_reads_across_services_are_the_documented_read_only_queries() -> None:
    _, reads = _accesses()
    owners = _owners()
    documented = {
        (table, module)
        for tables, place, *_ in _rows("Read-only queries across services")
        for table in _CODE.findall(tables)
        for module in _CODE.findall(place)[:1]
    }
    across = {(t, m) for t, m in reads if _service(m) != owners[t][0]}
    assert across - documented == set(), "reads of another service's table not documented"
    stale = {(t, m) for t, m in documented if (t, m) not in reads and t in owners}
    assert not stale, f"documented reads the code no longer does: {sorted(stale)}"


def test_the_collector_reads_plugin_health_from_its_topic_only() -> None:
    writes, reads = _accesses()
    collector = {(t, m) for t, m in writes | reads if _service(m) == "collector"}
    assert {t for t, _ in collector} == {"plugin_runs"}


def _statements(text: str) -> set[str]:
    return {" ".join(part.split()) for part in text.split(";") if "SELECT" in part}


def test_the_inspect_queries_are_the_documented_ones() -> None:
    tree = ast.parse((ROOT / "streams" / "operations" / "inspect.py").read_text())
    queries = {
        " ".join(node.value.split())
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if node.value.lstrip().startswith("SELECT")
    }
    block = DOC.read_text().split("```sql\n", 1)[1].split("```", 1)[0]
    sql = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    assert queries == _statements(sql)
