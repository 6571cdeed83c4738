"""Migrations on the real PostgreSQL: applied once, re-run is a no-op, concurrent runners agree."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from streams.config import Settings
from streams.exceptions import MigrationError
from streams.servers.db.migrations import SQL_DIR, discover, migrate
from tests.support.databases import create_database, drop_database


@pytest.fixture
async def fresh_dsn(servers: Settings) -> AsyncIterator[str]:
    """A DSN of a new, empty database on the test server, dropped afterwards."""
    base = servers.database_url.get_secret_value()
    name, dsn = await create_database(base)
    try:
        yield dsn
    finally:
        await drop_database(base, name)


async def _versions(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [row["version"] for row in rows]


async def test_applied_once_then_a_no_op(fresh_dsn: str) -> None:
    expected = [m.version for m in discover()]
    first = await migrate(fresh_dsn)
    second = await migrate(fresh_dsn)
    assert [m.version for m in first] == expected
    assert second == []
    assert await _versions(fresh_dsn) == expected
    conn = await asyncpg.connect(fresh_dsn)
    try:
        await conn.execute("INSERT INTO items (source, source_id, title) VALUES ('a', '1', 't')")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO items (source, source_id, title) VALUES ('a', '1', 'u')"
            )
    finally:
        await conn.close()


async def test_concurrent_runners_do_not_collide(fresh_dsn: str) -> None:
    results = await asyncio.gather(*(migrate(fresh_dsn) for _ in range(3)))
    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in discover()]
    assert sum(1 for result in results if result) == 1
    assert await _versions(fresh_dsn) == applied


async def test_an_edited_applied_migration_is_refused(fresh_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    shutil.copytree(SQL_DIR, folder)
    await migrate(fresh_dsn, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(fresh_dsn, folder)


async def test_a_failing_migration_is_rolled_back(fresh_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok_table (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int); SELECT nope;")
    with pytest.raises(MigrationError, match="0002_broken"):
        await migrate(fresh_dsn, tmp_path)
    assert await _versions(fresh_dsn) == [1]
    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()
