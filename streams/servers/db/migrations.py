"""Numbered SQL migrations, applied once each under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from streams.exceptions import MigrationError

__all__ = ["SQL_DIR", "Migration", "discover", "migrate"]

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).with_name("sql")
LOCK_KEY = 0x7472656E64  # "trend": one advisory lock shared by every migration runner
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL, to notice a file edited after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path = SQL_DIR) -> list[Migration]:
    """The migrations in a folder, in order; a badly named or duplicate file is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version, match.group(2), path.read_text())
    return [migrations[version] for version in sorted(migrations)]


async def migrate(dsn: str, folder: Path = SQL_DIR) -> list[Migration]:
    """Apply the migrations not yet recorded in schema_migrations; return those applied."""
    pending = discover(folder)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            return await _apply_pending(conn, pending)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


async def _apply_pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    await conn.execute(_BOOKKEEPING)
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    recorded = {row["version"]: row["checksum"] for row in rows}
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            _check_unchanged(migration, recorded[migration.version])
            continue
        await _apply(conn, migration)
        applied.append(migration)
    return applied


def _check_unchanged(migration: Migration, checksum: str) -> None:
    if checksum != migration.checksum:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
            "add a new migration instead of editing an applied one"
        )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migration {migration.version:04d}_{migration.name}: {exc}") from exc
    log.info("migration applied version=%d name=%s", migration.version, migration.name)
