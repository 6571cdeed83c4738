"""Request rate limits shared by every worker through Redis (fixed one-minute windows)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

__all__ = ["WINDOW_S", "RateLimiter", "RedisRateLimiter"]

WINDOW_S = 60
"""Length of one counting window, in seconds."""


class RateLimiter(Protocol):
    """Something that makes a caller wait until it may send one more request."""

    async def acquire(self) -> None:
        """Return once one more request is allowed."""


class RedisRateLimiter:
    """At most `per_minute` acquires per clock minute for `name`, counted in Redis.

    Every limiter with the same namespace and name shares one budget: each acquire INCRs the
    counter of the current window (`{namespace}ratelimit:{name}:{window}`, expiring after two
    windows); over the budget, the caller sleeps until the window ends and tries again.
    """

    def __init__(
        self,
        redis: Redis,
        name: str,
        per_minute: int,
        namespace: str = "",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self._redis = redis
        self.name = name
        self.per_minute = per_minute
        self._prefix = f"{namespace}ratelimit:{name}:"
        self._clock = clock

    def key(self, window: int) -> str:
        """The Redis key counting the requests of one window."""
        return f"{self._prefix}{window}"

    def window(self) -> int:
        """The number of the current window."""
        return int(self._clock() // WINDOW_S)

    async def acquire(self) -> None:
        """Wait until the shared budget allows one more request, and take it."""
        while True:
            window = self.window()
            if await self._take(window) <= self.per_minute:
                return
            await asyncio.sleep(max((window + 1) * WINDOW_S - self._clock(), 0.01))

    async def _take(self, window: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.key(window))
            pipe.expire(self.key(window), 2 * WINDOW_S)
            count, _ = await pipe.execute()
        return int(count)
