"""The latest state of each request, and revocations, kept in Redis for any client to read."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.records import RequestState, RequestStatus

__all__ = ["TIMELINE_MAX", "RequestStates", "redis_client"]

TIMELINE_MAX = 50
"""Statuses kept per request in its timeline (the latest ones)."""
RECENT_PAGE = 200
RECENT_SCAN_MAX = 10_000
"""A filtered listing looks at this many of the most recently updated requests at most."""


def redis_client(settings: Settings) -> Redis:
    """A Redis client on REDIS_URL (connections are opened on first use)."""
    return Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=10)


class RequestStates:
    """Request statuses by id (TTL REQUEST_STATE_TTL_S), plus the set of revoked request ids.

    Also an index of the requests by last update (sorted set `<NAMESPACE>requests`) and each
    request's timeline (`<NAMESPACE>request:<id>:timeline`, its last TIMELINE_MAX statuses).
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}request:"
        self.index = f"{settings.namespace}requests"
        self.ttl = settings.request_state_ttl_s

    async def save(self, status: RequestStatus) -> None:
        """Keep this status as the request's latest, index it and add it to its timeline."""
        at = status.updated_at.timestamp() if status.updated_at else 0.0
        timeline = self._timeline_key(status.request_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.prefix + status.request_id, status.dumps(), ex=self.ttl)
            pipe.zadd(self.index, {status.request_id: at})
            pipe.zremrangebyscore(self.index, "-inf", at - self.ttl)
            pipe.expire(self.index, self.ttl)
            pipe.rpush(timeline, json.dumps(_moment(status, at)))
            pipe.ltrim(timeline, -TIMELINE_MAX, -1)
            pipe.expire(timeline, self.ttl)
            await pipe.execute()

    async def get(self, request_id: str) -> RequestStatus | None:
        """The latest status of a request, or None if none is known (Celery's PENDING)."""
        payload = await self.redis.get(self.prefix + request_id)
        if payload is None:
            return None
        try:
            return RequestStatus.parse(payload)
        except RecordValidationError:
            return None

    async def recent(
        self, limit: int = 50, state: RequestState | str | None = None, plugin: str | None = None
    ) -> list[RequestStatus]:
        """The latest status of the most recently updated requests, newest first.

        `state` (one state, or several separated by commas) and `plugin` (a plugin or job name)
        filter them among the RECENT_SCAN_MAX latest; at most `limit` are returned.
        """
        states = _states(state)
        found: list[RequestStatus] = []
        start = 0
        while len(found) < limit and start < RECENT_SCAN_MAX:
            ids = await self.redis.zrevrange(self.index, start, start + RECENT_PAGE - 1)
            if not ids:
                break
            start += len(ids)
            for status in await self._many([_text(i) for i in ids]):
                if (not states or status.state in states) and (
                    not plugin or status.plugin == plugin
                ):
                    found.append(status)
        return found[:limit]

    async def timeline(self, request_id: str) -> list[dict[str, Any]]:
        """Every status the request went through (the last TIMELINE_MAX), oldest first:
        `state`, `at` (epoch seconds), `worker`, `error`, `error_type`, `retries`, `eta`."""
        raw = await self.redis.lrange(self._timeline_key(request_id), 0, -1)
        return [json.loads(entry) for entry in raw]

    async def _many(self, request_ids: list[str]) -> list[RequestStatus]:
        payloads = await self.redis.mget([self.prefix + i for i in request_ids])
        statuses = []
        for payload in payloads:
            if payload is None:
                continue
            try:
                statuses.append(RequestStatus.parse(payload))
            except RecordValidationError:
                continue
        return statuses

    def _timeline_key(self, request_id: str) -> str:
        return f"{self.prefix}{request_id}:timeline"

    async def revoke(self, request_id: str) -> None:
        """Mark a request revoked: skipped if queued, stopped if running."""
        await self.redis.set(f"{self.prefix}{request_id}:revoked", "1", ex=self.ttl)

    async def is_revoked(self, request_id: str) -> bool:
        """True once the request was revoked."""
        return bool(await self.redis.exists(f"{self.prefix}{request_id}:revoked"))


def _moment(status: RequestStatus, at: float) -> dict[str, Any]:
    """One timeline entry of a status."""
    return {
        "state": status.state.value,
        "at": at,
        "worker": status.worker,
        "error": status.error,
        "error_type": status.error_type,
        "retries": status.retries,
        "eta": status.eta.isoformat() if status.eta else None,
    }


def _states(state: RequestState | str | None) -> frozenset[RequestState]:
    """The states a filter names (`"RECEIVED,STARTED"` or one state); empty: any state."""
    if state is None or state == "":
        return frozenset()
    if isinstance(state, RequestState):
        return frozenset({state})
    return frozenset(
        RequestState(part.strip().upper()) for part in state.split(",") if part.strip()
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
