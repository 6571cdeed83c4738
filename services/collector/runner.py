"""Runs one collect request (a plugin's collection or a group's fan-out) through the lifecycle."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, get_args

from redis.asyncio import Redis

from services.collector.collection import Collection, ItemSink, Seen
from services.collector.exceptions import CollectorError
from services.collector.groups import GroupOutcome, children_of
from services.collector.http import SourceHttp
from services.collector.plugins import Plugin, PluginContext, PluginError, PluginRegistry
from services.collector.processing import Pending
from services.collector.ratelimit import RedisRateLimiter
from streams.config import Settings
from streams.exceptions import RecordValidationError, UnknownPluginError
from streams.messages.delivery import Delivery
from streams.messages.records import CollectRequest, Lane, RawItem, RequestStatus
from streams.messages.topics import ITEMS_RAW
from streams.reliability.decoding import parse_request
from streams.reliability.limits import TimeLimits
from streams.reliability.retry import RetryPolicy
from streams.requests.jobs import Outcome, RequestLifecycle, Revocations, Task
from streams.requests.reporting import StatusReporter, StatusSink

__all__ = [
    "CollectorDeps",
    "Groups",
    "Processing",
    "RequestRunner",
    "RequestSink",
    "RunLog",
    "parse_trigger",
]

log = logging.getLogger(__name__)
RequestSink = Callable[[CollectRequest, Lane], Awaitable[None]]
"""Produces a request to a lane's topic (a group's children)."""
EXPECTED_FAILURES = (PluginError, UnknownPluginError, RecordValidationError, CollectorError)
PROCESSOR = "the processor"
"""What a `then_process` request waits for."""


def parse_trigger(payload: bytes | None, max_bytes: int, key: str | None = None) -> CollectRequest:
    """A CollectRequest from a message; a missing request_id is taken from the key.

    Raises RequestTooLargeError over `max_bytes`, RecordValidationError when invalid.
    """
    return parse_request(CollectRequest, payload, max_bytes, key)


class Groups(Protocol):
    """Open groups and their children's outcomes (Redis: GroupTracker)."""

    async def open(
        self, parent: CollectRequest, members: list[str], timings: dict[str, float]
    ) -> None:
        """Remember which children a parent waits for."""

    async def child_done(self, status: RequestStatus) -> GroupOutcome | None:
        """Record a child's final status; the parent's outcome when it was the last."""


class RunLog(Protocol):
    """Plugin runs and the plugins groups skip (PostgreSQL: PluginRunLog)."""

    async def disabled(self) -> set[str]:
        """Plugins the groups skip."""

    async def record(self, status: RequestStatus) -> None:
        """Record a plugin run's final status."""


class Processing(Protocol):
    """What `then_process` requests published and the processor reported (ProcessingTracker)."""

    async def begin(self, request_id: str) -> None:
        """A run of the request starts."""

    async def published(self, request_id: str, *keys: str) -> None:
        """Items of the request the broker acknowledged."""

    async def expect(self, request_id: str, items: int, context: dict[str, Any]) -> Pending | None:
        """The run published `items` items; Pending if they were all processed already;
        RevokedError if the request was revoked meanwhile."""

    async def finished(self, request_id: str) -> None:
        """The request's SUCCESS (or REVOKED after waiting) is published."""


@dataclass(frozen=True)
class CollectorDeps:
    """Where a runner publishes and the shared state it uses: all required (the unit tests give
    in-memory fakes, tests/support/fakes.py)."""

    registry: PluginRegistry
    settings: Settings
    statuses: StatusSink
    items: ItemSink
    requests: RequestSink
    redis: Redis
    """The plugins' shared state (PluginContext.redis) and rate limits."""
    revocations: Revocations
    seen: Seen
    groups: Groups
    runs: RunLog
    processing: Processing
    policy: RetryPolicy
    """Retries of a failed request (max_retries 0: a failure is final at once)."""


async def _untracked(items: list[RawItem]) -> None:
    """Items of a request nobody waits for: nothing to record."""


class RequestRunner:
    """Checks a trigger, then runs its plugin or fans its group out; the request lifecycle
    (streams.requests.jobs) reports every state, retries, limits and revokes."""

    def __init__(self, deps: CollectorDeps) -> None:
        self.deps = deps
        self._lifecycles = {
            lane: RequestLifecycle(
                CollectRequest,
                partial(self._prepare, lane),
                deps.statuses,
                deps.revocations,
                max_bytes=deps.settings.max_request_bytes,
                policy=deps.policy,
                revoke_check_s=deps.settings.revoke_check_s,
                settled=self._settled,
                expected=EXPECTED_FAILURES,
            )
            for lane in get_args(Lane)
        }

    @property
    def registry(self) -> PluginRegistry:
        """The plugins this runner can run."""
        return self.deps.registry

    async def handle(
        self,
        payload: bytes | None,
        fallback_id: str,
        lane: Lane = "bulk",
        key: str | None = None,
        attempt: int = 0,
    ) -> RequestStatus:
        """Answer one message of a lane's topic; never raises for a bad message.

        A trigger without a request_id takes the message key; a bad one is answered under
        `fallback_id`. `attempt`: failures behind this message (it is a retry when > 0).
        Raises only when a server is unreachable (the message is to be retried in place).
        """
        return await self._lifecycles[lane].handle(payload, fallback_id, key, attempt)

    async def handle_deliveries(self, deliveries: list[Delivery], lane: Lane) -> None:
        """A guard handler for a lane: run each request; a RETRY or FAILURE routes its message."""
        await self._lifecycles[lane].handle_deliveries(deliveries)

    async def run(
        self, request: CollectRequest, lane: Lane = "bulk", attempt: int = 0
    ) -> RequestStatus:
        """Run a request to its final state, or to RETRY (a group: to STARTED)."""
        return await self._lifecycles[lane].run(request, attempt)

    async def complete(self, pending: Pending) -> RequestStatus:
        """Publish the end of a `then_process` request whose items are all processed: SUCCESS,
        or REVOKED if it was revoked while it waited."""
        lifecycle, report, result = self._waited(pending)
        return await lifecycle.finish(report, result, PROCESSOR)

    async def revoke(self, pending: Pending) -> RequestStatus:
        """Publish REVOKED for a `then_process` request revoked while it waited for the
        processor (ended by the tracker's `revoke`), with its figures so far."""
        lifecycle, report, result = self._waited(pending)
        return await lifecycle.revoke_waiting(report, result, PROCESSOR)

    def _waited(
        self, pending: Pending
    ) -> tuple[RequestLifecycle[CollectRequest], StatusReporter, dict[str, Any]]:
        """The lifecycle, reporter and final result of a request that waited for the processor."""
        context = pending.context
        lifecycle = self._lifecycles["bulk"]
        report = lifecycle.reporter(
            pending.request_id,
            context["plugin"],
            parent_id=context["parent_id"],
            timings=context["timings"],
        )
        return lifecycle, report, {**context["result"], "processing": pending.processing}

    def limits(self, plugin: str) -> TimeLimits:
        """The soft and hard time limits of a plugin's runs (per-plugin settings first)."""
        settings = self.deps.settings
        soft = settings.plugin_soft_time_limits.get(plugin, settings.collect_soft_time_limit_s)
        hard = settings.plugin_hard_time_limits.get(plugin, settings.collect_hard_time_limit_s)
        return TimeLimits(soft, max(soft, hard))

    async def _prepare(self, lane: Lane, request: CollectRequest) -> Task:
        """Refuse what these plugins cannot run; else the plugin's run or the group's fan-out."""
        self.registry.check(request, self.deps.settings)
        if self.registry.is_group(request.plugin):
            return Task(partial(self._fan_out, request, lane), announce=False)
        plugin = self.registry.get(request.plugin)
        return Task(partial(self._collect, plugin, request), self.limits(plugin.name))

    async def _collect(
        self, plugin: Plugin, request: CollectRequest, report: StatusReporter
    ) -> Outcome:
        deps = self.deps
        tracked = request.then_process and not request.dry_run
        if tracked:
            await deps.processing.begin(request.request_id)
        http = self._http(plugin)
        ctx = PluginContext(request.request_id, deps.settings, request.dry_run, http, deps.redis)
        confirmed = partial(self._published, request.request_id) if tracked else _untracked
        collection = Collection(
            plugin,
            request,
            deps.items,
            deps.seen,
            confirmed,
            deps.settings.dry_run_sample_size,
            max_item_bytes=min(deps.settings.max_request_bytes, ITEMS_RAW.max_value_bytes),
        )
        started = time.monotonic()
        try:
            result = await collection.run(ctx)
        finally:
            if http is not None:
                await http.aclose()
        result["duration_s"] = round(time.monotonic() - started, 3)
        if tracked:
            waiting = {**result, "processing": "waiting for the processor"}
            wait = partial(self._await_processing, request, report, result)
            return Outcome(waiting, waiting=True, wait=wait, awaits=PROCESSOR)
        return Outcome(result)

    async def _published(self, request_id: str, items: list[RawItem]) -> None:
        """Items of a `then_process` request that the broker acknowledged."""
        await self.deps.processing.published(request_id, *(item.key for item in items))

    async def _await_processing(
        self, request: CollectRequest, report: StatusReporter, result: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Once STARTED says it waits: wait until the processor reported every published item
        (`then_process`); the final result if they all were already (RevokedError: revoked)."""
        context = {
            "result": result,
            "timings": report.timings,
            "plugin": request.plugin,
            "parent_id": request.parent_id,
        }
        pending = await self.deps.processing.expect(
            request.request_id, result["items_published"], context
        )
        return None if pending is None else {**result, "processing": pending.processing}

    def _http(self, plugin: Plugin) -> SourceHttp | None:
        if not plugin.uses_http:
            return None
        settings = self.deps.settings
        per_minute = settings.plugin_rate_limits.get(plugin.name)
        limiter = None
        if per_minute:
            limiter = RedisRateLimiter(self.deps.redis, plugin.name, per_minute, settings.namespace)
        return SourceHttp(plugin.name, settings, limiter)

    async def _fan_out(self, parent: CollectRequest, lane: Lane, report: StatusReporter) -> Outcome:
        listed = self.registry.members(parent.plugin)
        disabled = await self.deps.runs.disabled()
        members = [name for name in listed if name not in disabled]
        if not members:
            raise UnknownPluginError(f"group {parent.plugin!r} has no enabled plugin")
        await self.deps.groups.open(parent, members, report.timings)
        children = children_of(parent, members)
        for child in children:
            await self.deps.requests(child, lane)
        skipped = sorted(set(listed) - set(members))
        result = {"children": [c.request_id for c in children], "skipped_disabled": skipped}
        return Outcome(result, waiting=True)

    async def _settled(self, status: RequestStatus) -> None:
        """A final status: the end of a `then_process` request that waited (SUCCESS, or
        REVOKED) is confirmed to the tracker, the plugin run recorded, and the parent group
        closed when this was its last child."""
        if isinstance((status.result or {}).get("processing"), dict):
            await self.deps.processing.finished(status.request_id)
        if status.plugin in self.registry.names():
            await self.deps.runs.record(status)
        if status.parent_id:
            outcome = await self.deps.groups.child_done(status)
            if outcome is not None:
                parent = self._lifecycles["bulk"].reporter(
                    status.parent_id, outcome.group, timings=outcome.timings
                )
                await parent(outcome.state, result=outcome.result, error=outcome.error)
