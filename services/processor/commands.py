"""The processor's worker commands (`faust -A services.processor <command>`)."""

from __future__ import annotations

from services.processor.app import app
from streams.servers.db import create_pool

__all__ = ["pending"]


@app.command()
async def pending() -> None:
    """Print how many stored items wait for processing."""
    pool = await create_pool(app.settings, max_size=1)
    try:
        count = await pool.fetchval("SELECT count(*) FROM items WHERE processed_at IS NULL")
    finally:
        await pool.close()
    print(count)
