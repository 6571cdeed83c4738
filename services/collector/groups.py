"""Group requests (`all`, `high_frequency`): fan-out to one child per plugin, then aggregation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from streams.config import Settings
from streams.messages.records import CollectRequest, RequestState, RequestStatus

__all__ = ["GroupOutcome", "GroupTracker", "aggregate", "children_of"]

_META = "_meta"


def children_of(parent: CollectRequest, members: list[str]) -> list[CollectRequest]:
    """One child request per plugin; `options["plugins"][name]` adds options for one plugin."""
    shared = {k: v for k, v in parent.options.items() if k != "plugins"}
    own: dict[str, Any] = parent.options.get("plugins") or {}
    return [
        CollectRequest(
            plugin=name,
            request_id=f"{parent.request_id}.{name}",
            parent_id=parent.request_id,
            options={**shared, **(own.get(name) or {})},
            dry_run=parent.dry_run,
            then_process=parent.then_process,
            priority=parent.priority,
            deadline=parent.deadline,
            requested_by=parent.requested_by,
        )
        for name in members
    ]


@dataclass(frozen=True)
class GroupOutcome:
    """The parent's final state once every child is done."""

    group: str
    state: RequestState
    result: dict[str, Any]
    error: str | None
    timings: dict[str, float]


def _summary(status: RequestStatus) -> dict[str, Any]:
    result = status.result or {}
    return {
        "state": status.state.value,
        "items_collected": result.get("items_collected", 0),
        "items_published": result.get("items_published", 0),
        "error": status.error,
    }


def aggregate(
    members: list[str], children: dict[str, dict[str, Any]]
) -> tuple[RequestState, dict[str, Any], str | None]:
    """SUCCESS (partial_failure flagged when some children failed), FAILURE when all failed."""
    failures = {
        n: children[n]["error"] or children[n]["state"]
        for n in members
        if children[n]["state"] != RequestState.SUCCESS.value
    }
    result = {
        "children": {name: children[name] for name in members},
        "items_collected": sum(children[n]["items_collected"] for n in members),
        "items_published": sum(children[n]["items_published"] for n in members),
        "partial_failure": bool(failures) and len(failures) < len(members),
        "failures": failures,
    }
    if failures and len(failures) == len(members):
        return RequestState.FAILURE, result, f"every plugin failed: {_describe(failures)}"
    return RequestState.SUCCESS, result, None


def _describe(failures: dict[str, str]) -> str:
    return "; ".join(f"{name}: {error}" for name, error in failures.items())


class GroupTracker:
    """Children's summaries in a Redis hash per parent; the last child to end closes the group."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}group:"
        self.ttl = settings.request_state_ttl_s

    async def open(
        self, parent: CollectRequest, members: list[str], timings: dict[str, float]
    ) -> None:
        """Remember which children a parent waits for."""
        key = self.prefix + parent.request_id
        meta = {"group": parent.plugin, "members": members, "timings": timings}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, _META, json.dumps(meta))
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def child_done(self, status: RequestStatus) -> GroupOutcome | None:
        """Record a child's final status; the outcome when this closes the group, else None."""
        key = self.prefix + (status.parent_id or "")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, status.plugin, json.dumps(_summary(status)))
            pipe.hgetall(key)
            _, fields = await pipe.execute()
        decoded = {k.decode(): json.loads(v) for k, v in fields.items()}
        meta = decoded.pop(_META, None)
        if meta is None or not set(meta["members"]) <= set(decoded):
            return None
        if not await self.redis.set(f"{key}:closed", "1", nx=True, ex=self.ttl):
            return None  # another worker (or a redelivery) closed it already
        state, result, error = aggregate(meta["members"], decoded)
        return GroupOutcome(meta["group"], state, result, error, meta["timings"])
