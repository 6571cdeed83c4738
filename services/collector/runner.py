"""Runs one collect request and reports each state it reaches as a RequestStatus."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis

from services.collector.collection import Collection, ItemSink
from services.collector.exceptions import CollectorError, RequestRevokedError
from services.collector.groups import GroupTracker, children_of
from services.collector.http import SourceHttp
from services.collector.plugins import Plugin, PluginContext, PluginError, PluginRegistry
from services.collector.processing import Pending, ProcessingTracker
from services.collector.ratelimit import RedisRateLimiter
from services.collector.runs import PluginRunLog
from services.collector.seen import SeenItems
from streams.config import Settings
from streams.decoding import parse_request
from streams.delivery import Failure
from streams.exceptions import RecordValidationError, UnknownPluginError
from streams.limits import RevokedError, TimeLimits, run_limited
from streams.records import CollectRequest, RequestState, RequestStatus
from streams.reporting import RetryNote, StatusReporter, StatusSink, worker_name
from streams.retry import Decision, RetryPolicy, is_outage
from streams.state import RequestStates

__all__ = ["CollectorDeps", "Lane", "RequestRunner", "parse_trigger"]

log = logging.getLogger(__name__)
Lane = Literal["bulk", "priority"]
RequestSink = Callable[[CollectRequest, Lane], Awaitable[None]]
EXPECTED_FAILURES = (PluginError, UnknownPluginError, RecordValidationError, CollectorError)


def parse_trigger(payload: bytes | None, max_bytes: int, key: str | None = None) -> CollectRequest:
    """A CollectRequest from a message; a missing request_id is taken from the key.

    Raises RequestTooLargeError over `max_bytes`, RecordValidationError when invalid.
    """
    return parse_request(CollectRequest, payload, max_bytes, key)


@dataclass
class CollectorDeps:
    """Where a runner publishes, and the shared state it uses (None: not wired, as in tests)."""

    registry: PluginRegistry
    settings: Settings
    statuses: StatusSink
    items: ItemSink
    requests: RequestSink
    redis: Redis | None = None
    states: RequestStates | None = None
    seen: SeenItems | None = None
    groups: GroupTracker | None = None
    runs: PluginRunLog | None = None
    processing: ProcessingTracker | None = None
    policy: RetryPolicy | None = None
    """Retries of a failed request; None: a failure is final at once."""


class RequestRunner:
    """Parses a trigger, runs its plugin (or fans a group out) and reports every state."""

    def __init__(self, deps: CollectorDeps) -> None:
        self.deps = deps
        self.worker = worker_name()

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
        """Answer one message of a request topic; never raises for a bad message.

        A trigger without a request_id takes the message key; a bad one is answered under
        `fallback_id`. `attempt`: failures behind this message (it is a retry when > 0).
        Raises only when a server is unreachable (the message is to be retried in place).
        """
        try:
            request = parse_trigger(payload, self.deps.settings.max_request_bytes, key)
        except RecordValidationError as exc:
            report = StatusReporter(self.deps.statuses, fallback_id, "", worker=self.worker)
            return await report(RequestState.FAILURE, error=exc, retry=RetryNote(attempt + 1))
        return await self.run(request, lane, attempt)

    async def run(
        self, request: CollectRequest, lane: Lane = "bulk", attempt: int = 0
    ) -> RequestStatus:
        """Run a request to its final state, or to RETRY (a group: to STARTED)."""
        report = self._reporter(request)
        await report(RequestState.RECEIVED, retry=RetryNote(attempt) if attempt else None)
        try:
            await self._ensure_not_revoked(request)
            self.registry.check(request, self.deps.settings)
            if self.registry.is_group(request.plugin):
                return await self._fan_out(request, lane, report)
            status = await self._run_plugin(self.registry.get(request.plugin), request, report)
        except RevokedError as exc:
            status = await report(RequestState.REVOKED, error=exc)
        except Exception as exc:
            if is_outage(exc):
                raise
            status = await self._failed(report, exc, attempt + 1)
        await self._after(status)
        return status

    async def _ensure_not_revoked(self, request: CollectRequest) -> None:
        states = self.deps.states
        if states is not None and await states.is_revoked(request.request_id):
            raise RequestRevokedError(f"request {request.request_id} was revoked before it ran")

    async def _run_plugin(
        self, plugin: Plugin, request: CollectRequest, report: StatusReporter
    ) -> RequestStatus:
        await report(RequestState.STARTED)
        tracked = request.then_process and not request.dry_run and self.deps.processing is not None
        if tracked:
            assert self.deps.processing is not None
            await self.deps.processing.begin(request.request_id)
        result = await self._collect(plugin, request)
        if tracked:
            return await self._await_processing(request, report, result)
        return await report(RequestState.SUCCESS, result=result)

    async def _await_processing(
        self, request: CollectRequest, report: StatusReporter, result: dict[str, Any]
    ) -> RequestStatus:
        """Stay STARTED until the processor reported every published item (`then_process`)."""
        assert self.deps.processing is not None
        context = {
            "result": result,
            "timings": report.timings,
            "plugin": request.plugin,
            "parent_id": request.parent_id,
        }
        pending = await self.deps.processing.expect(
            request.request_id, result["items_published"], context
        )
        if pending is None:
            waiting = {**result, "processing": "waiting for the processor"}
            return await report(RequestState.STARTED, result=waiting)
        status = await report(
            RequestState.SUCCESS, result={**result, "processing": pending.processing}
        )
        await self.deps.processing.finished(request.request_id)
        return status

    async def complete(self, pending: Pending) -> RequestStatus:
        """Publish the SUCCESS of a `then_process` request whose items are all processed."""
        context = pending.context
        report = StatusReporter(
            self.deps.statuses,
            pending.request_id,
            context["plugin"],
            parent_id=context["parent_id"],
            timings=context["timings"],
            worker=self.worker,
        )
        result = {**context["result"], "processing": pending.processing}
        status = await report(RequestState.SUCCESS, result=result)
        if self.deps.processing is not None:
            await self.deps.processing.finished(pending.request_id)
        await self._after(status)
        return status

    def _reporter(self, request: CollectRequest) -> StatusReporter:
        return StatusReporter(
            self.deps.statuses,
            request.request_id,
            request.plugin,
            parent_id=request.parent_id,
            worker=self.worker,
        )

    async def _collect(self, plugin: Plugin, request: CollectRequest) -> dict[str, Any]:
        deps = self.deps
        http = self._http(plugin)
        ctx = PluginContext(request.request_id, deps.settings, request.dry_run, http, deps.redis)
        states = deps.states
        publish = deps.items
        if request.then_process and not request.dry_run and deps.processing is not None:
            publish = deps.processing.tracking(request.request_id, publish)
        collection = Collection(
            plugin,
            request,
            publish,
            deps.seen,
            (lambda: states.is_revoked(request.request_id)) if states else None,
            deps.settings.dry_run_sample_size,
        )
        started = time.monotonic()
        revoked = (lambda: states.is_revoked(request.request_id)) if states else None
        try:
            result = await run_limited(
                collection.run(ctx), self.limits(plugin.name), revoked, deps.settings.revoke_check_s
            )
        finally:
            if http is not None:
                await http.aclose()
        result["duration_s"] = round(time.monotonic() - started, 3)
        return result

    def limits(self, plugin: str) -> TimeLimits:
        """The soft and hard time limits of a plugin's runs (per-plugin settings first)."""
        settings = self.deps.settings
        soft = settings.plugin_soft_time_limits.get(plugin, settings.collect_soft_time_limit_s)
        hard = settings.plugin_hard_time_limits.get(plugin, settings.collect_hard_time_limit_s)
        return TimeLimits(soft, max(soft, hard))

    def _http(self, plugin: Plugin) -> SourceHttp | None:
        if not plugin.uses_http:
            return None
        settings, redis = self.deps.settings, self.deps.redis
        per_minute = settings.plugin_rate_limits.get(plugin.name)
        limiter = None
        if redis is not None and per_minute:
            limiter = RedisRateLimiter(redis, plugin.name, per_minute, settings.namespace)
        return SourceHttp(plugin.name, settings, limiter)

    async def _fan_out(
        self, parent: CollectRequest, lane: Lane, report: StatusReporter
    ) -> RequestStatus:
        listed = self.registry.members(parent.plugin)
        disabled = await self.deps.runs.disabled() if self.deps.runs else set()
        members = [name for name in listed if name not in disabled]
        if not members:
            raise UnknownPluginError(f"group {parent.plugin!r} has no enabled plugin")
        if self.deps.groups is None:
            raise CollectorError("group requests need Redis, and this runner has none")
        await self.deps.groups.open(parent, members, report.timings)
        children = children_of(parent, members)
        for child in children:
            await self.deps.requests(child, lane)
        skipped = sorted(set(listed) - set(members))
        result = {"children": [c.request_id for c in children], "skipped_disabled": skipped}
        return await report(RequestState.STARTED, result=result)

    async def _failed(self, report: StatusReporter, exc: Exception, attempt: int) -> RequestStatus:
        """RETRY with the next due time while the policy allows, else FAILURE."""
        if not isinstance(exc, EXPECTED_FAILURES):
            log.exception("request failed", extra={"request_id": report.request_id})
        policy = self.deps.policy
        decision = policy.decide(exc, attempt) if policy else Decision("dead", attempt)
        note = RetryNote(attempt, decision.due or None, Failure.of(exc).traceback)
        state = RequestState.RETRY if decision.action == "retry" else RequestState.FAILURE
        return await report(state, error=exc, retry=note)

    async def _after(self, status: RequestStatus) -> None:
        """Record the plugin run, and close the parent group when this was its last child."""
        if not status.state.is_final:
            return
        if self.deps.runs is not None and status.plugin in self.registry.names():
            await self.deps.runs.record(status)
        if status.parent_id and self.deps.groups is not None:
            outcome = await self.deps.groups.child_done(status)
            if outcome is not None:
                parent = StatusReporter(
                    self.deps.statuses,
                    status.parent_id,
                    outcome.group,
                    timings=outcome.timings,
                    worker=self.worker,
                )
                await parent(outcome.state, result=outcome.result, error=outcome.error)
