"""The processor's agents: raw items through the trend pipeline in batches; processing jobs."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from services.processor.app import PIPELINE, app
from services.processor.handlers import handlers
from services.processor.pipeline import BatchResult
from services.processor.resources import Resources
from services.processor.topics import (
    items_topic,
    job_results_topic,
    jobs_topic,
    reports_topic,
    trends_topic,
)
from services.processor.vectors import ITEMS
from streams import retry_consumer
from streams.decoding import parse, valid_deliveries
from streams.delivery import Delivery
from streams.jobs import JobRunner
from streams.limits import job_limits
from streams.records import ProcessingReport, ProcessRequest, RawItem, RequestStatus
from streams.retry import Guard, RetryPolicy, Route
from streams.topics import ITEMS_RAW, PROCESS_REQUESTS

__all__ = ["guard", "jobs", "process_items", "reports", "resources"]

log = logging.getLogger(__name__)
EXIT_UNFINISHED = 75
"""Exit status of a processor stopped with a batch it could not finish (EX_TEMPFAIL)."""
resources = Resources(app.settings, PIPELINE)
_process_policy = RetryPolicy.for_kind(app.settings, app.settings.process_max_retries)
guard = Guard(
    app.settings, [Route(ITEMS_RAW, _process_policy), Route(PROCESS_REQUESTS, _process_policy)]
)


def reports(items: list[RawItem], new: list[str | None]) -> list[ProcessingReport]:
    """One report per request with items in the batch: how many were handled, how many new."""
    handled = Counter(item.request_id for item in items if item.request_id)
    fresh = Counter(request_id for request_id in new if request_id)
    return [
        ProcessingReport(request_id=request_id, items_handled=count, items_new=fresh[request_id])
        for request_id, count in handled.items()
    ]


async def process_batch(items: list[RawItem]) -> tuple[list[str | None], BatchResult | None]:
    """Store the raw items, run the pipeline on those not yet processed, persist the outcome.

    A redelivered batch finds its items processed already and changes nothing.
    """
    store = await resources.items()
    new = await store.save(items)
    done = await store.ids([item.key for item in items], processed_only=True)
    fresh = [item for item in items if item.key not in done]
    if not fresh:
        return new, None
    pipeline = await resources.pipeline()
    try:
        result = await asyncio.to_thread(pipeline.process, fresh)
        state = await asyncio.to_thread(pipeline.state_changes)
        await (await resources.results()).save(result, state)
        pipeline.state_saved(state)
    except BaseException:
        await resources.forget_pipeline()  # its memory holds a batch that was not saved
        raise
    await _save_vectors(result)
    return new, result


async def _save_vectors(result: BatchResult) -> None:
    placed = [o for o in result.outcomes if o.vector is not None]
    vectors = await resources.vectors()
    store = await resources.items()
    ids = await store.ids([o.item_id for o in placed])
    points = [(ids[o.item_id], o) for o in placed if o.item_id in ids]
    await vectors.upsert(
        ITEMS,
        [point_id for point_id, _ in points],
        [outcome.vector for _, outcome in points],  # type: ignore[misc]
        [{"item": o.item_id, "topic": o.topic_id, "ts": o.at.timestamp()} for _, o in points],  # type: ignore[union-attr]
    )
    await store.mark_vectors([point_id for point_id, _ in points])


async def _announce(
    result: BatchResult | None, items: list[RawItem], new: list[str | None]
) -> None:
    for position, trend in enumerate(result.trends if result else [], start=1):
        if trend.changed:
            rank = result.rank_of(trend, position)  # type: ignore[union-attr]
            await trends_topic.send(key=trend.topic_id, value=trend.to_update(rank))
    for report in reports(items, new):
        await reports_topic.send(key=report.request_id, value=report)


async def handle_items(deliveries: list[Delivery]) -> None:
    """Process one batch of valid raw-item deliveries (raises when it failed)."""
    limit = app.settings.max_request_bytes
    items = [parse(delivery, RawItem, limit) for delivery in deliveries]
    new, result = await process_batch(items)
    await _announce(result, items, new)
    log.info(
        "batch processed items=%d new=%d topics=%s",
        len(items),
        len(new),
        len(result.topics) if result else "unchanged",
        extra=deliveries[-1].where,
    )


@app.agent(items_topic)
async def process_items(stream: Any) -> None:
    """Each batch of raw items: stored, clustered into topics, scored, announced."""
    settings = app.settings
    batches = stream.take_events(
        settings.processor_batch_size, within=settings.processor_batch_within_s
    )
    async for events in batches:
        deliveries = [Delivery.of_message(event.message) for event in events]
        valid = await valid_deliveries(deliveries, RawItem, guard)
        if valid:
            await _finish(guard.handle(valid, handle_items))


async def _finish(batch: Coroutine[Any, Any, None]) -> None:
    """Run a batch to its end, even when the worker is asked to stop meanwhile.

    Faust acknowledges a batch's events as soon as the agent leaves it, even by cancellation:
    so on SIGTERM the batch in flight is finished first; if it cannot be (a server away), the
    process exits at once, leaving its offsets uncommitted to be read again after the restart.
    """
    work = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        log.info("stopping: finishing the batch in flight")
        try:
            await work
        except BaseException:
            log.exception("batch unfinished at shutdown; exiting without committing it")
            os._exit(EXIT_UNFINISHED)
        raise


async def _publish_status(status: RequestStatus) -> None:
    await job_results_topic.send(key=status.request_id, value=status)
    await resources.states.save(status)


_job_runner = JobRunner(
    ProcessRequest,
    handlers(resources),
    _publish_status,
    resources.states,
    policy=_process_policy,
    limits=job_limits(app.settings),
)


handle_jobs = _job_runner.handle_deliveries


@app.agent(jobs_topic)
async def jobs(stream: Any) -> None:
    """Processing jobs on request (process.requests), answered on process.results."""
    async for event in stream.events():
        await guard.handle([Delivery.of_message(event.message)], handle_jobs)


retry_consumer.install(
    app,
    guard,
    {
        ITEMS_RAW.full_name(app.settings): handle_items,
        PROCESS_REQUESTS.full_name(app.settings): handle_jobs,
    },
)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_resources(sender: Any, **kwargs: Any) -> None:
    await resources.close()
    await guard.close()
