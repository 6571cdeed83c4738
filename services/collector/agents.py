"""The collector's agents: collect requests (bulk and priority lanes) and control commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.collector.app import app
from services.collector.groups import GroupTracker
from services.collector.plugins import default_registry
from services.collector.processing import ProcessingTracker
from services.collector.runner import CollectorDeps, Lane, RequestRunner
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
from streams.decoding import decoded, fallback_request_id, message_key
from streams.logs import event_context
from streams.records import (
    CollectRequest,
    ControlCommand,
    ProcessingReport,
    RawItem,
    RequestStatus,
)
from streams.resources import WorkerResources

__all__ = [
    "collect",
    "collect_priority",
    "control",
    "get_runner",
    "processing_reports",
    "publish_request",
    "resources",
]

log = logging.getLogger(__name__)
resources = WorkerResources(app.settings)
_runner: RequestRunner | None = None
_runner_lock = asyncio.Lock()


async def _publish_status(status: RequestStatus) -> None:
    await results_topic.send(key=status.request_id, value=status)
    await resources.states.save(status)


async def _publish_item(item: RawItem) -> None:
    await items_topic.send(key=item.key, value=item)


async def publish_request(request: CollectRequest, lane: Lane) -> None:
    """Produce a request to its lane's topic (group children, scheduled runs, POST /collect)."""
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
                    _publish_status,
                    _publish_item,
                    publish_request,
                    redis=redis,
                    states=resources.states,
                    seen=SeenItems(redis, settings),
                    groups=GroupTracker(redis, settings),
                    runs=PluginRunLog(await resources.pool()),
                    processing=ProcessingTracker(redis, settings),
                )
            )
    return _runner


async def _consume(stream: Any, lane: Lane) -> None:
    async for event in stream.events():
        log.debug("request received lane=%s", lane, extra=event_context(event))
        runner = await get_runner()
        message = event.message
        await runner.handle(event.value, fallback_request_id(message), lane, message_key(message))


@app.agent(requests_topic, concurrency=app.settings.collector_concurrency)
async def collect(stream: Any) -> None:
    """Bulk requests from collect.requests."""
    await _consume(stream, "bulk")


@app.agent(priority_topic, concurrency=app.settings.collector_priority_concurrency)
async def collect_priority(stream: Any) -> None:
    """Urgent requests from collect.requests.priority, never queued behind bulk ones."""
    await _consume(stream, "priority")


@app.agent(control_topic)
async def control(stream: Any) -> None:
    """Control commands: `revoke` marks a request revoked for every worker (Redis)."""
    async for event, command in decoded(stream, ControlCommand):
        await resources.states.revoke(command.request_id)
        log.info(
            "request revoked by=%s",
            command.issued_by,
            extra=event_context(event, command.request_id),
        )


@app.agent(reports_topic)
async def processing_reports(stream: Any) -> None:
    """The processor's reports: a `then_process` request succeeds once its items are processed."""
    async for _event, report in decoded(stream, ProcessingReport):
        runner = await get_runner()
        assert runner.deps.processing is not None
        pending = await runner.deps.processing.reported(report)
        if pending is not None:
            await runner.complete(pending)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_resources(sender: Any, **kwargs: Any) -> None:
    await resources.close()
