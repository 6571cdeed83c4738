"""The latest state of each request, and revocations, kept in Redis for any client to read."""

from __future__ import annotations

from redis.asyncio import Redis

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.records import RequestStatus

__all__ = ["RequestStates", "redis_client"]


def redis_client(settings: Settings) -> Redis:
    """A Redis client on REDIS_URL (connections are opened on first use)."""
    return Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=10)


class RequestStates:
    """Request statuses by id (TTL REQUEST_STATE_TTL_S), plus the set of revoked request ids."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}request:"
        self.ttl = settings.request_state_ttl_s

    async def save(self, status: RequestStatus) -> None:
        """Keep this status as the request's latest."""
        await self.redis.set(self.prefix + status.request_id, status.dumps(), ex=self.ttl)

    async def get(self, request_id: str) -> RequestStatus | None:
        """The latest status of a request, or None if none is known (Celery's PENDING)."""
        payload = await self.redis.get(self.prefix + request_id)
        if payload is None:
            return None
        try:
            return RequestStatus.parse(payload)
        except RecordValidationError:
            return None

    async def revoke(self, request_id: str) -> None:
        """Mark a request revoked: skipped if queued, stopped if running."""
        await self.redis.set(f"{self.prefix}{request_id}:revoked", "1", ex=self.ttl)

    async def is_revoked(self, request_id: str) -> bool:
        """True once the request was revoked."""
        return bool(await self.redis.exists(f"{self.prefix}{request_id}:revoked"))
