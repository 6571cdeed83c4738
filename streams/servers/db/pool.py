"""The asyncpg connection pool every service uses."""

from __future__ import annotations

import asyncpg

from streams.config import Settings

__all__ = ["create_pool"]


async def create_pool(settings: Settings, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool on DATABASE_URL."""
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=min_size, max_size=max_size
    )
    assert pool is not None  # asyncpg returns the pool once it is initialised
    return pool
