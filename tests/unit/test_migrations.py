"""Migration discovery: numbered files in order; bad names and duplicates refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.exceptions import MigrationError
from streams.servers.db.migrations import SQL_DIR, discover


def test_shipped_migrations_are_numbered_from_one() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"
    for table in (
        "items",
        "topics",
        "trends",
        "trend_snapshots",
        "plugin_runs",
        "requests",
        "schedule_runs",
        "analytics",
    ):
        assert f"CREATE TABLE {table} (" in migrations[0].sql
    assert SQL_DIR.is_dir()


def test_order_and_checksum(tmp_path: Path) -> None:
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    first, second = discover(tmp_path)
    assert (first.version, first.name, second.version) == (1, "first", 2)
    assert first.checksum != second.checksum


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["1_first.sql"], "named NNNN_name.sql"),
        (["0001_First.sql"], "named NNNN_name.sql"),
        (["0001_a.sql", "0001_b.sql"], "version 1 is used twice"),
    ],
)
def test_bad_folders_are_refused(tmp_path: Path, files: list[str], message: str) -> None:
    for name in files:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        discover(tmp_path)
