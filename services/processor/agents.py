"""The processor's agents, Faust glue: enrich (items.raw, every worker), cluster (items.enriched,
one owner); each batch handed to its step (pipeline/steps.py) on the servers' ports."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Coroutine
from typing import Any

from services.processor.adapters import KafkaPublisher, QdrantVectors, StoredRows
from services.processor.app import PIPELINE, app
from services.processor.handlers import OPTIONS, handlers
from services.processor.owner import ClusterOwner
from services.processor.persist import OwnerStore
from services.processor.pipeline import ClusterStage, Enriched
from services.processor.pipeline.steps import cluster_batch, enrich_batch, reports, unplaced
from services.processor.resources import Resources
from services.processor.topics import enriched_topic, items_topic, job_results_topic, jobs_topic
from streams.messages.delivery import Delivery
from streams.messages.records import EnrichedItem, ProcessRequest, RawItem, StreamRecord
from streams.messages.topics import ITEMS_ENRICHED, ITEMS_RAW, PROCESS_REQUESTS, PROCESS_RESULTS
from streams.reliability import retry_consumer
from streams.reliability.decoding import parse, valid_deliveries
from streams.reliability.limits import job_limits
from streams.reliability.retry import Guard, Handler, RetryPolicy, Route
from streams.requests.jobs import JobRunner, close_on_shutdown, status_publisher

__all__ = ["cluster", "enrich", "guard", "jobs", "owner", "publisher", "reports", "resources"]

log = logging.getLogger(__name__)
EXIT_UNFINISHED = 75
"""Exit status of a processor stopped with a batch it could not finish (EX_TEMPFAIL)."""
resources = Resources(app.settings, PIPELINE)
_rows = StoredRows(resources)
_vectors = QdrantVectors(resources)
publisher = KafkaPublisher()
_process_policy = RetryPolicy.for_kind(app.settings, app.settings.process_max_retries)
guard = Guard(
    app.settings,
    [
        Route(ITEMS_RAW, _process_policy),
        Route(ITEMS_ENRICHED, RetryPolicy(max_retries=0)),  # never retried: see handle_enriched
        Route(PROCESS_REQUESTS, _process_policy),
    ],
)


async def handle_raw(deliveries: list[Delivery]) -> None:
    """Enrich one batch of valid raw-item deliveries and publish them (raises when it failed):
    the enrich step (steps.enrich_batch) on PostgreSQL, Qdrant and Kafka."""
    limit = app.settings.max_request_bytes
    items = [parse(delivery, RawItem, limit) for delivery in deliveries]
    enricher = await resources.enricher()
    batch = await enrich_batch(
        items, enricher, _rows, _vectors, publisher, offload=asyncio.to_thread
    )
    log.info(
        "batch enriched items=%d published=%d dropped=%d done=%d",
        len(items),
        len(batch.enriched),
        len(batch.dropped),
        len(batch.done),
        extra=deliveries[-1].where,
    )


@app.agent(items_topic)
async def enrich(stream: Any) -> None:
    """Each batch of raw items: stored, normalised, embedded, published to items.enriched."""
    await _in_batches(stream, RawItem, handle_raw)


# -- cluster: items.enriched (one partition) -> topics, trends; one fenced owner ------------


async def _new_stage() -> ClusterStage:
    return ClusterStage(PIPELINE, (await resources.enricher()).embedder.dimension)


owner = ClusterOwner(
    OwnerStore(resources.pool, PIPELINE.window_hours),
    _new_stage,
    f"{socket.gethostname()}:{os.getpid()}",
)
"""This worker's hold on the cluster stage (services/processor/owner.py)."""


async def handle_enriched(deliveries: list[Delivery]) -> None:
    """Cluster one batch of enriched items as the owner of the cluster stage.

    Items processed already are skipped (and reported again); the batch's outcome and the
    stage's state are written in one transaction fenced by the owner epoch: a worker that
    lost the stage to another writes nothing, logs it and stands down. A failed batch is not
    retried through retry topics (whoever consumed them would contend for the stage): its
    messages are dead-lettered, their items stay stored unprocessed for the sweep job.
    """
    limit = app.settings.max_request_bytes
    records = [parse(delivery, EnrichedItem, limit) for delivery in deliveries]
    where = deliveries[-1].where
    ownership = await owner.held()
    if ownership is None:
        log.warning("cluster stage not ours: batch left to its owner", extra=where)
        return
    items = [Enriched.from_record(record) for record in records]
    fresh, known, done = await unplaced(ownership.stage, items, _rows)
    fenced = owner.fenced(ownership)
    result = await owner.run(
        ownership,
        lambda: cluster_batch(ownership.stage, fresh, known, fenced, offload=asyncio.to_thread),
        where,
    )
    if result is None:
        return
    await publisher.trends(result)
    new = {record.key for record in records if record.new}  # new for its request, done or not
    await publisher.reports(reports("cluster", ((r.key, r.request_id) for r in records), new))
    log.info(
        "batch clustered items=%d skipped=%d topics=%d trends=%d epoch=%d",
        len(records),
        len(done),
        len(result.topics),
        len(result.trends),
        ownership.epoch,
        extra=where,
    )


@app.agent(enriched_topic)
async def cluster(stream: Any) -> None:
    """Each batch of enriched items: near-duplicates, topics, trends, one transaction."""
    await _in_batches(stream, EnrichedItem, handle_enriched)


async def _in_batches(stream: Any, kind: type[StreamRecord], handler: Handler) -> None:
    """Take the stream in batches (PROCESSOR_BATCH_SIZE, PROCESSOR_BATCH_WITHIN_S); each
    batch's malformed messages are dead-lettered, the rest handled to the end by `handler`."""
    settings = app.settings
    batches = stream.take_events(
        settings.processor_batch_size, within=settings.processor_batch_within_s
    )
    async for events in batches:
        deliveries = [Delivery.of_message(event.message) for event in events]
        valid = await valid_deliveries(deliveries, kind, guard)
        if valid:
            await _finish(guard.handle(valid, handler))


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _assigned(sender: Any, assigned: set[Any], **kwargs: Any) -> None:
    """Take the cluster stage over as soon as items.enriched comes to this worker."""
    name = ITEMS_ENRICHED.full_name(app.settings)
    await owner.on_assigned(any(tp.topic == name for tp in assigned))


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
    name = ITEMS_ENRICHED.full_name(app.settings)
    if any(tp.topic == name for tp in revoked):
        await owner.on_revoked()


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


_publish_status = status_publisher(job_results_topic, PROCESS_RESULTS, resources.states)


_job_runner = JobRunner(
    ProcessRequest,
    handlers(resources),
    _publish_status,
    resources.states,
    policy=_process_policy,
    limits=job_limits(app.settings),
    options=OPTIONS,
    max_bytes=app.settings.max_request_bytes,
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
        ITEMS_RAW.full_name(app.settings): handle_raw,
        PROCESS_REQUESTS.full_name(app.settings): handle_jobs,
    },
)

close_on_shutdown(app, resources.close, guard.close)
