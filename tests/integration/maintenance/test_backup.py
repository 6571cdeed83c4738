"""Backups with the real pg_dump: restored into an empty database, the same rows; rotation."""

from __future__ import annotations

import asyncpg

from services.maintenance.backup import backup, list_backups, restore
from services.processor.store import ItemStore
from streams.config import Settings
from tests.factories import make_item
from tests.support.databases import create_database, drop_database


async def _counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return {
            row["tablename"]: await conn.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"')
            for row in tables
        }
    finally:
        await conn.close()


async def test_a_backup_restores_into_an_empty_database_with_the_same_rows(
    test_settings: Settings, pool: asyncpg.Pool
) -> None:
    await ItemStore(pool).save([make_item(title=f"Backed up {n}") for n in range(7)])
    await pool.execute("INSERT INTO topics (id, label) VALUES ('t1', 'one'), ('t2', 'two')")
    done = await backup(test_settings, pool)
    assert done.path.is_file() and done.size_bytes > 0 and done.toc_entries > 10

    dsn = test_settings.database_url.get_secret_value()
    name, empty = await create_database(dsn)
    try:
        await restore(test_settings, done.path, empty)
        restored = await _counts(empty)
    finally:
        await drop_database(dsn, name)
    original = await _counts(dsn)
    assert restored == original
    assert restored["items"] == 7 and restored["topics"] == 2
    assert restored["schema_migrations"] == original["schema_migrations"] > 0


async def test_backups_are_rotated_and_recorded(
    test_settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = test_settings.model_copy(update={"backup_keep": 2})
    runs = [await backup(settings, pool) for _ in range(3)]
    assert [run.path.exists() for run in runs] == [False, True, True]
    assert runs[2].removed == (str(runs[0].path),)
    recorded = await list_backups(pool)
    assert [row["status"] for row in recorded] == ["SUCCESS"] * 3
    assert [row["removed_at"] is not None for row in recorded] == [False, False, True]
