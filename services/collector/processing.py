"""`then_process`: a request waits for the processor's reports on its items before SUCCESS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from streams.config import Settings
from streams.records import ProcessingReport

__all__ = ["Pending", "ProcessingTracker"]


@dataclass(frozen=True)
class Pending:
    """A request whose items are all processed: what to publish as its SUCCESS."""

    request_id: str
    context: dict[str, Any]
    """What the runner saved when it started waiting (result, timings, plugin, parent_id)."""
    processing: dict[str, int]


class ProcessingTracker:
    """Counts the processor's reports per request (Redis); closes a request once, when complete.

    Reports can arrive before the runner says how many items to wait for: both sides add their
    part and check; the first to see the request complete closes it.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}processing:"
        self.ttl = settings.request_state_ttl_s

    async def expect(self, request_id: str, items: int, context: dict[str, Any]) -> Pending | None:
        """Wait for `items` items of this request; Pending at once if they were all reported."""
        fields = {"expected": str(items), "context": json.dumps(context)}
        return await self._update(request_id, lambda pipe, key: pipe.hset(key, mapping=fields))

    async def reported(self, report: ProcessingReport) -> Pending | None:
        """Count a report; Pending when it completes a request that waits for it."""

        def count(pipe: Any, key: str) -> None:
            pipe.hincrby(key, "handled", report.items_handled)
            pipe.hincrby(key, "new", report.items_new)

        return await self._update(report.request_id, count)

    async def _update(self, request_id: str, change: Any) -> Pending | None:
        key = self.prefix + request_id
        async with self.redis.pipeline(transaction=True) as pipe:
            change(pipe, key)
            pipe.expire(key, self.ttl)
            pipe.hgetall(key)
            *_, fields = await pipe.execute()
        state = {k.decode(): v.decode() for k, v in fields.items()}
        if "expected" not in state or int(state.get("handled", 0)) < int(state["expected"]):
            return None
        if not await self.redis.set(f"{key}:closed", "1", nx=True, ex=self.ttl):
            return None
        processing = {
            "items_processed": int(state.get("handled", 0)),
            "items_new": int(state.get("new", 0)),
        }
        return Pending(request_id, json.loads(state["context"]), processing)
