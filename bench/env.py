"""One bench run's own world: a fresh namespace (topics, groups, Redis keys), a migrated
PostgreSQL database, a Qdrant folder and a state dir, all removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from streams.config import Settings, load_settings
from streams.messages.topics import ensure_topics
from streams.servers.db import migrate
from tests.support.databases import create_database, drop_database
from tests.support.kafka import delete_namespace


@asynccontextmanager
async def bench_env(label: str, **overrides: object) -> AsyncIterator[Settings]:
    """Settings of the local stack's servers in a namespace and database of this run only."""
    base = load_settings()
    base_dsn = base.database_url.get_secret_value()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    name, dsn = await create_database(base_dsn)
    settings = base.model_copy(
        update={
            "namespace": f"bench{label}{uuid.uuid4().hex[:8]}.",
            "database_url": SecretStr(dsn),
            "state_dir": folder / "state",
            "qdrant_path": folder / "qdrant",
            **schedules_off(base),
            **overrides,
        }
    )
    try:
        await migrate(dsn)
        await ensure_topics(settings)
        yield settings
    finally:
        await delete_namespace(settings)
        await drop_database(base_dsn, name)
        shutil.rmtree(folder, ignore_errors=True)


def schedules_off(settings: Settings) -> dict[str, str]:
    """Every cron setting emptied: no scheduled job competes with the measured work."""
    return {
        name: ""
        for name in Settings.model_fields
        if name.startswith("schedule_") and len(str(getattr(settings, name)).split()) >= 5
    }


async def count_rows(settings: Settings, where: str = "processed_at IS NOT NULL") -> int:
    """Rows of the run's items table matching a condition."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM items WHERE {where}"))
    finally:
        await conn.close()
