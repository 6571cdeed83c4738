"""What every worker holds once: a Redis client, the request states, a PostgreSQL pool."""

from __future__ import annotations

import asyncio

import asyncpg
from redis.asyncio import Redis

from streams.config import Settings
from streams.requests.state import RequestStates, redis_client
from streams.servers.db import create_pool

__all__ = ["WorkerResources"]


class WorkerResources:
    """Clients opened on first use and closed when the worker stops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Redis = redis_client(settings)
        self.states = RequestStates(self.redis, settings)
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        """The PostgreSQL pool, created once."""
        async with self._lock:
            return await self._unlocked_pool()

    async def _unlocked_pool(self) -> asyncpg.Pool:
        """The pool, for a caller already holding the lock."""
        if self._pool is None:
            self._pool = await create_pool(self.settings, max_size=4)
        return self._pool

    async def close(self) -> None:
        """Close every connection."""
        await self.redis.aclose()
        if self._pool is not None:
            await self._pool.close()
