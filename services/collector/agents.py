"""The collector's agents: collect requests (bulk and priority lanes) and control commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from services.collector.app import app
from services.collector.groups import GroupTracker
from services.collector.plugin_health import PluginHealthView
from services.collector.plugins import default_registry
from services.collector.processing import ProcessingTracker
from services.collector.runner import CollectorDeps, RequestRunner
from services.collector.runs import PluginRunLog
from services.collector.seen import SeenItems
from services.collector.topics import (
    control_topic,
    items_topic,
    priority_topic,
    reports_topic,
    requests_topic,
    results_topic,
)
from streams.messages.delivery import Delivery
from streams.messages.records import CollectRequest, ControlCommand, Lane, ProcessingReport, RawItem
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    CONTROL,
    PROCESSING_REPORTS,
)
from streams.reliability import retry_consumer
from streams.reliability.decoding import consume_records
from streams.reliability.retry import Guard, Handler, RetryPolicy, Route
from streams.requests import client
from streams.requests.jobs import close_on_shutdown, status_publisher
from streams.servers.logs import event_context
from streams.servers.resources import WorkerResources

__all__ = [
    "collect",
    "collect_priority",
    "control",
    "get_runner",
    "guard",
    "processing",
    "processing_reports",
    "publish_request",
    "resources",
]

log = logging.getLogger(__name__)
resources = WorkerResources(app.settings)
processing = ProcessingTracker(resources.redis, app.settings)
_collect_policy = RetryPolicy.for_kind(app.settings, app.settings.collect_max_retries)
_once = RetryPolicy(max_retries=0)
guard = Guard(
    app.settings,
    [
        Route(COLLECT_REQUESTS, _collect_policy),
        Route(COLLECT_REQUESTS_PRIORITY, _collect_policy),
        Route(CONTROL, _once),
        Route(PROCESSING_REPORTS, _once),
    ],
)
_runner: RequestRunner | None = None
_runner_lock = asyncio.Lock()


async def _publish_item(item: RawItem) -> Awaitable[object]:
    """Send an item to items.raw; what it returns completes with the broker's acknowledgement."""
    return await items_topic.send(key=item.key, value=item)


async def publish_request(request: CollectRequest, lane: Lane) -> None:
    """Produce a request to a lane's topic (a group's children, scheduled runs)."""
    topic = priority_topic if lane == "priority" else requests_topic
    await topic.send(key=request.request_id, value=request.dumps())


async def get_runner() -> RequestRunner:
    """The worker's runner, wired to Kafka, Redis and PostgreSQL on first use."""
    global _runner  # noqa: PLW0603 - one runner per worker process
    async with _runner_lock:
        if _runner is None:
            settings, redis = app.settings, resources.redis
            _runner = RequestRunner(
                CollectorDeps(
                    default_registry(settings),
                    settings,
                    status_publisher(results_topic, COLLECT_RESULTS, resources.states),
                    _publish_item,
                    publish_request,
                    redis=redis,
                    revocations=resources.states,
                    seen=SeenItems(redis, settings),
                    groups=GroupTracker(redis, settings),
                    runs=PluginRunLog(await resources.pool(), PluginHealthView(settings), settings),
                    processing=processing,
                    policy=_collect_policy,
                )
            )
    return _runner


def _handler(lane: Lane) -> Handler:
    async def handle(deliveries: list[Delivery]) -> None:
        await (await get_runner()).handle_deliveries(deliveries, lane)

    return handle


async def _consume(stream: Any, lane: Lane) -> None:
    handler = _handler(lane)
    async for event in stream.events():
        log.debug("request received lane=%s", lane, extra=event_context(event))
        await guard.handle([Delivery.of_message(event.message)], handler)


@app.agent(requests_topic, concurrency=app.settings.collector_concurrency)
async def collect(stream: Any) -> None:
    """Bulk requests from collect.requests."""
    await _consume(stream, "bulk")


@app.agent(priority_topic, concurrency=app.settings.collector_priority_concurrency)
async def collect_priority(stream: Any) -> None:
    """Urgent requests from collect.requests.priority, never queued behind bulk ones."""
    await _consume(stream, "priority")


async def _revoke(command: ControlCommand) -> None:
    """Keep the revocation; a `then_process` request waiting for the processor ends REVOKED
    now (a queued or running one is stopped by its own check)."""
    await resources.states.revoke(command.request_id)
    log.info("request revoked by=%s", command.issued_by, extra={"request_id": command.request_id})
    pending = await processing.revoke(command.request_id)
    if pending is not None:
        await (await get_runner()).revoke(pending)


async def _reported(report: ProcessingReport) -> None:
    runner = await get_runner()
    pending = await processing.reported(report)
    if pending is not None:
        await runner.complete(pending)


@app.agent(control_topic)
async def control(stream: Any) -> None:
    """Control commands: `revoke` marks a request revoked for every worker (Redis), and ends
    one waiting for the processor."""
    await consume_records(stream, ControlCommand, guard, _revoke)


@app.agent(reports_topic)
async def processing_reports(stream: Any) -> None:
    """The processor's reports: a `then_process` request succeeds once its items are processed."""
    await consume_records(stream, ProcessingReport, guard, _reported)


retry_consumer.install(
    app,
    guard,
    {
        COLLECT_REQUESTS.full_name(app.settings): _handler("bulk"),
        COLLECT_REQUESTS_PRIORITY.full_name(app.settings): _handler("priority"),
    },
)

close_on_shutdown(app, resources.close, guard.close, client.close)
