"""Items published recently (Redis, TTL SEEN_ITEMS_TTL_S) are not published again."""

from __future__ import annotations

from redis.asyncio import Redis

from streams.config import Settings
from streams.messages.records import RawItem

__all__ = ["SeenItems"]


class SeenItems:
    """Remembers item keys for a while; mark an item only once it is published (never lose one)."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}seen:"
        self.ttl = settings.seen_items_ttl_s

    @property
    def enabled(self) -> bool:
        """False when SEEN_ITEMS_TTL_S is 0."""
        return self.ttl > 0

    async def seen(self, item: RawItem) -> bool:
        """True when the item was published within the TTL."""
        return self.enabled and bool(await self.redis.exists(self.prefix + item.key))

    async def mark(self, item: RawItem) -> None:
        """Remember a published item."""
        if self.enabled:
            await self.redis.set(self.prefix + item.key, "1", ex=self.ttl)
