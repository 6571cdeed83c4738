"""In-memory stand-ins for the Kafka topics, Redis and PostgreSQL state that runners depend on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis

from services.collector.groups import GroupOutcome, aggregate
from services.collector.processing import Pending
from streams.messages.records import CollectRequest, Lane, RawItem, RequestStatus

__all__ = [
    "Groups",
    "Processing",
    "Requests",
    "Revocations",
    "Runs",
    "Seen",
    "Statuses",
    "acknowledged",
    "unreachable_redis",
]


def unreachable_redis() -> Redis:
    """A Redis client of no server, for plugins that keep no shared state (a command fails at
    once: nothing listens on port 1)."""
    return Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)


def acknowledged() -> Awaitable[object]:
    """A broker acknowledgement that has arrived already."""
    done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class Statuses:
    """The results topic: every status published, in order."""

    def __init__(self) -> None:
        self.seen: list[RequestStatus] = []

    async def __call__(self, status: RequestStatus) -> None:
        self.seen.append(status)


class Revocations:
    """Revoked request ids."""

    def __init__(self, *revoked: str) -> None:
        self.revoked = set(revoked)

    async def is_revoked(self, request_id: str) -> bool:
        """True once `request_id` was revoked."""
        return request_id in self.revoked


class Seen:
    """Items published recently, by key."""

    enabled = True

    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def seen(self, item: RawItem) -> bool:
        """True when the item was marked."""
        return item.key in self.keys

    async def mark(self, item: RawItem) -> None:
        """Remember the item."""
        self.keys.add(item.key)


class Groups:
    """Open groups and their children's summaries (as GroupTracker keeps them in Redis)."""

    def __init__(self) -> None:
        self.open_groups: dict[str, tuple[str, list[str], dict[str, float]]] = {}
        self.children: dict[str, dict[str, dict[str, Any]]] = {}

    async def open(
        self, parent: CollectRequest, members: list[str], timings: dict[str, float]
    ) -> None:
        """Remember which children a parent waits for."""
        self.open_groups[parent.request_id] = (parent.plugin, members, dict(timings))

    async def child_done(self, status: RequestStatus) -> GroupOutcome | None:
        """Record a child's outcome; the parent's once every child is done (once)."""
        parent = status.parent_id or ""
        done = self.children.setdefault(parent, {})
        result = status.result or {}
        done[status.plugin] = {
            "state": status.state.value,
            "items_collected": result.get("items_collected", 0),
            "items_published": result.get("items_published", 0),
            "error": status.error,
        }
        group, members, timings = self.open_groups.get(parent, ("", [], {}))
        if not members or not set(members) <= set(done):
            return None
        del self.open_groups[parent]
        state, summary, error = aggregate(members, done)
        return GroupOutcome(group, state, summary, error, timings)


class Runs:
    """Plugin runs recorded, and the plugins groups skip."""

    def __init__(self, *disabled: str) -> None:
        self.disabled_plugins = set(disabled)
        self.recorded: list[RequestStatus] = []

    async def disabled(self) -> set[str]:
        """Plugins the groups skip."""
        return set(self.disabled_plugins)

    async def record(self, status: RequestStatus) -> None:
        """Record a final status."""
        self.recorded.append(status)


class Processing:
    """`then_process` bookkeeping, with every call kept in order in `calls`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.published_keys: dict[str, set[str]] = {}

    async def begin(self, request_id: str) -> None:
        """A run starts."""
        self.calls.append(("begin", request_id))

    async def published(self, request_id: str, *keys: str) -> None:
        """Items the broker acknowledged."""
        self.calls.append(("published", request_id, *keys))
        self.published_keys.setdefault(request_id, set()).update(keys)

    async def expect(self, request_id: str, items: int, context: dict[str, Any]) -> Pending | None:
        """The run is done publishing: still waiting for the processor."""
        self.calls.append(("expect", request_id, items))
        return None

    async def finished(self, request_id: str) -> None:
        """The request's SUCCESS is published."""
        self.calls.append(("finished", request_id))


class Requests:
    """The request topics: each request produced, with its lane."""

    def __init__(self) -> None:
        self.sent: list[tuple[CollectRequest, Lane]] = []

    async def __call__(self, request: CollectRequest, lane: Lane) -> None:
        self.sent.append((request, lane))
