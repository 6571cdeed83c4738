"""Database backups: pg_dump in custom format, checked with pg_restore --list, rotated."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from streams.config import Settings
from streams.exceptions import TrendStreamError
from streams.messages.records import utcnow

__all__ = [
    "BackupError",
    "BackupResult",
    "backup",
    "backup_folder",
    "find_binary",
    "list_backups",
    "restore",
]

log = logging.getLogger(__name__)
DEBIAN_BIN = Path("/usr/lib/postgresql")


class BackupError(TrendStreamError):
    """pg_dump or pg_restore is missing, failed, or wrote a file that does not read back."""


@dataclass(frozen=True)
class BackupResult:
    """One backup: where it is, how big, how many archive entries, what rotation removed."""

    id: int
    path: Path
    size_bytes: int
    toc_entries: int
    removed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "id": self.id,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "toc_entries": self.toc_entries,
            "removed": list(self.removed),
        }


def find_binary(name: str, settings: Settings) -> Path:
    """pg_dump or pg_restore: in PG_BIN_DIR, on PATH, else Debian's newest PostgreSQL."""
    if settings.pg_bin_dir is not None:
        candidates = [settings.pg_bin_dir / name]
    else:
        found = shutil.which(name)
        debian = sorted(DEBIAN_BIN.glob(f"*/bin/{name}"), key=lambda p: _major(p.parts[-3]))
        candidates = [Path(found)] if found else []
        candidates += list(reversed(debian))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    where = settings.pg_bin_dir or f"PATH or {DEBIAN_BIN}/<version>/bin"
    raise BackupError(
        f"{name} not found in {where}: install PostgreSQL's client programs "
        "(apt-get install postgresql-client) or set PG_BIN_DIR"
    )


def _major(version: str) -> int:
    return int(version) if version.isdigit() else 0


def backup_folder(settings: Settings) -> Path:
    """BACKUP_DIR, or STATE_DIR/backups."""
    return settings.backup_dir or settings.state_dir / "backups"


def libpq_target(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the environment that carries the password instead."""
    parts = urlsplit(dsn)
    env = {"PGPASSWORD": parts.password} if parts.password else {}
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc)), env


async def _run(binary: Path, args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client program; its stdout, or BackupError with its stderr."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{binary.name} exited with {process.returncode}: {message}")
    return out.decode(errors="replace")


async def dump(settings: Settings, path: Path) -> int:
    """pg_dump the database into `path` (custom format); the archive's entries, read back."""
    target, env = libpq_target(settings.database_url.get_secret_value())
    await _run(find_binary("pg_dump", settings), ["-Fc", "-f", str(path), "-d", target], env)
    listing = await _run(find_binary("pg_restore", settings), ["--list", str(path)], {})
    entries = [line for line in listing.splitlines() if line.strip() and not line.startswith(";")]
    if not entries:
        raise BackupError(f"{path}: pg_restore --list shows no entries")
    return len(entries)


async def restore(settings: Settings, path: Path, dsn: str) -> None:
    """Restore a backup into the (empty) database at `dsn`, without owners or privileges."""
    target, env = libpq_target(dsn)
    args = ["--no-owner", "--no-privileges", "--exit-on-error", "-d", target, str(path)]
    await _run(find_binary("pg_restore", settings), args, env)


async def backup(settings: Settings, pool: asyncpg.Pool) -> BackupResult:
    """Dump, verify, record in `backups`, then keep only the newest BACKUP_KEEP backups."""
    folder = backup_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"trend-{utcnow():%Y%m%dT%H%M%S%fZ}.dump"
    run_id = await pool.fetchval("INSERT INTO backups (path) VALUES ($1) RETURNING id", str(path))
    try:
        entries = await dump(settings, path)
    except BackupError as exc:
        path.unlink(missing_ok=True)
        await _finish(pool, run_id, "FAILURE", error=str(exc))
        raise
    size = path.stat().st_size
    await _finish(pool, run_id, "SUCCESS", size=size, entries=entries)
    removed = await rotate(settings, pool)
    log.info("backup done path=%s bytes=%d entries=%d", path, size, entries)
    return BackupResult(run_id, path, size, entries, tuple(removed))


async def _finish(
    pool: asyncpg.Pool,
    run_id: int,
    status: str,
    *,
    size: int | None = None,
    entries: int | None = None,
    error: str | None = None,
) -> None:
    await pool.execute(
        "UPDATE backups SET finished_at = now(), status = $2, size_bytes = $3, "
        "toc_entries = $4, error = $5 WHERE id = $1",
        run_id,
        status,
        size,
        entries,
        error,
    )


async def rotate(settings: Settings, pool: asyncpg.Pool) -> list[str]:
    """Delete the successful backups beyond the newest BACKUP_KEEP; their paths."""
    rows = await pool.fetch(
        "SELECT id, path FROM backups WHERE status = 'SUCCESS' AND removed_at IS NULL "
        "ORDER BY started_at DESC, id DESC OFFSET $1",
        settings.backup_keep,
    )
    for row in rows:
        await asyncio.to_thread(Path(row["path"]).unlink, missing_ok=True)
        await pool.execute("UPDATE backups SET removed_at = now() WHERE id = $1", row["id"])
    return [row["path"] for row in rows]


async def list_backups(pool: asyncpg.Pool, limit: int = 50) -> list[dict[str, Any]]:
    """The latest backup runs, newest first (for the dashboard and the CLI)."""
    rows = await pool.fetch(
        "SELECT id, started_at, finished_at, path, size_bytes, toc_entries, status, error, "
        "removed_at FROM backups ORDER BY started_at DESC, id DESC LIMIT $1",
        limit,
    )
    return [dict(row) for row in rows]
