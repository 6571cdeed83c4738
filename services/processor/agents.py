"""The processor's agents: enrich (items.raw, every worker), cluster (items.enriched, one owner)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Coroutine, Iterable
from typing import Any

from services.processor.app import PIPELINE, app
from services.processor.handlers import OPTIONS, handlers
from services.processor.persist import FencedError, PipelineStore, load_archived
from services.processor.pipeline import BatchResult, Enriched
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.resources import Ownership, Resources
from services.processor.topics import (
    enriched_topic,
    items_topic,
    job_results_topic,
    jobs_topic,
    reports_topic,
    trends_topic,
)
from services.processor.vectors import ITEMS
from streams.messages.delivery import Delivery
from streams.messages.items import content_hash, vector_payload
from streams.messages.records import (
    EnrichedItem,
    ProcessingReport,
    ProcessRequest,
    RawItem,
    StreamRecord,
)
from streams.messages.topics import ITEMS_ENRICHED, ITEMS_RAW, PROCESS_REQUESTS, PROCESS_RESULTS
from streams.reliability import retry_consumer
from streams.reliability.decoding import parse, valid_deliveries
from streams.reliability.limits import job_limits
from streams.reliability.retry import Guard, Handler, RetryPolicy, Route
from streams.requests.jobs import JobRunner, close_on_shutdown, status_publisher

__all__ = ["cluster", "enrich", "guard", "jobs", "reports", "resources"]

log = logging.getLogger(__name__)
EXIT_UNFINISHED = 75
"""Exit status of a processor stopped with a batch it could not finish (EX_TEMPFAIL)."""
resources = Resources(app.settings, PIPELINE)
_process_policy = RetryPolicy.for_kind(app.settings, app.settings.process_max_retries)
guard = Guard(
    app.settings,
    [
        Route(ITEMS_RAW, _process_policy),
        Route(ITEMS_ENRICHED, RetryPolicy(max_retries=0)),  # never retried: see handle_enriched
        Route(PROCESS_REQUESTS, _process_policy),
    ],
)


def reports(
    stage: str, handled: Iterable[tuple[str, str | None]], new: set[str]
) -> list[ProcessingReport]:
    """One report per request with items handled by `stage`: (item key, request id) pairs;
    `new` holds the keys new for their request (ItemStore.save: first stored by it, on every
    redelivery). Reports name their items, so a reader counts an item reported twice (a
    redelivery) once."""
    keys: defaultdict[str, list[str]] = defaultdict(list)
    for key, request_id in handled:
        if request_id:
            keys[request_id].append(key)
    return [
        ProcessingReport(
            request_id=request_id,
            items_handled=len(listed),
            items_new=sum(key in new for key in listed),
            stage=stage,
            keys=listed,
            new_keys=[key for key in listed if key in new],
        )
        for request_id, listed in keys.items()
    ]


async def _send_reports(batch: list[ProcessingReport]) -> None:
    sent = [await reports_topic.send(key=report.request_id, value=report) for report in batch]
    await asyncio.gather(*sent)


# -- enrich: items.raw -> items.enriched, on every worker ----------------------------------


async def handle_raw(deliveries: list[Delivery]) -> None:
    """Enrich one batch of valid raw-item deliveries and publish them (raises when it failed).

    Raw rows are stored idempotently; items processed already (a redelivery) and items
    dropped are reported here; the others go on to items.enriched.
    """
    limit = app.settings.max_request_bytes
    items = [parse(delivery, RawItem, limit) for delivery in deliveries]
    enricher = await resources.enricher()
    kept, dropped = await asyncio.to_thread(enricher.normalize, items)
    hashes = {item.item_id: content_hash(item.title, item.text) for item in kept}
    store = await resources.items()
    new = await store.save(items, hashes)
    done = await store.ids([item.key for item in items], processed_only=True)
    await store.drop({entry.item_id: entry.reason.value for entry in dropped})
    fresh = [item for item in kept if item.item_id not in done]
    enriched = await asyncio.to_thread(enricher.enrich, fresh, await _originals(fresh, hashes))
    await _save_vectors(enriched)
    requests = {item.key: item.request_id for item in items}
    await _publish(enriched, requests, new)
    finished = [e.item_id for e in dropped] + [key for key in requests if key in done]
    await _send_reports(reports("enrich", ((k, requests[k]) for k in finished), new))
    log.info(
        "batch enriched items=%d published=%d dropped=%d done=%d",
        len(items),
        len(enriched),
        len(dropped),
        len(done),
        extra=deliveries[-1].where,
    )


async def _originals(items: list[NormalizedItem], hashes: dict[str, str]) -> list[str | None]:
    """For each item, the first stored item with its content when that is another item."""
    first = await (await resources.items()).originals([hashes[i.item_id] for i in items])
    found = (first.get(hashes[item.item_id]) for item in items)
    return [
        original if original != item.item_id else None
        for item, original in zip(items, found, strict=True)
    ]


async def _save_vectors(enriched: list[Enriched]) -> None:
    embedded = [entry for entry in enriched if entry.vector is not None]
    if not embedded:
        return
    store = await resources.items()
    ids = await store.ids([entry.item_id for entry in embedded])
    points = [(ids[e.item_id], e) for e in embedded if e.item_id in ids]
    await (await resources.vectors()).upsert(
        ITEMS,
        [point_id for point_id, _ in points],
        [entry.vector for _, entry in points],  # type: ignore[misc]
        [vector_payload(entry.item_id, entry.at) for _, entry in points],
    )
    await store.mark_vectors([point_id for point_id, _ in points])


async def _publish(
    enriched: list[Enriched], requests: dict[str, str | None], new: set[str]
) -> None:
    """Send the batch to items.enriched and wait until the broker has all of it."""
    sent = [
        await enriched_topic.send(
            key=entry.item_id,
            value=entry.to_record(requests.get(entry.item_id), new=entry.item_id in new).dumps(),
        )
        for entry in enriched
    ]
    await asyncio.gather(*sent)


@app.agent(items_topic)
async def enrich(stream: Any) -> None:
    """Each batch of raw items: stored, normalised, embedded, published to items.enriched."""
    await _in_batches(stream, RawItem, handle_raw)


# -- cluster: items.enriched (one partition) -> topics, trends; one fenced owner ------------


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
    ownership = await resources.ownership()
    if ownership is None:
        log.warning("cluster stage not ours: batch left to its owner", extra=deliveries[-1].where)
        return
    store = await resources.items()
    done = await store.ids([record.key for record in records], processed_only=True)
    fresh = [Enriched.from_record(r) for r in records if r.key not in done]
    known = await _saved_topics(ownership.stage.clusterer.topic_of, fresh)
    try:
        result = await _cluster(ownership, fresh, known)
    except FencedError as exc:
        log.warning("cluster stage not ours: write refused: %s", exc, extra=deliveries[-1].where)
        await resources.stand_down("fenced")
        return
    except BaseException:
        await resources.stand_down("batch failed")  # its memory holds a batch not saved
        raise
    await _announce(result, records)
    log.info(
        "batch clustered items=%d skipped=%d topics=%d trends=%d epoch=%d",
        len(records),
        len(done),
        len(result.topics),
        len(result.trends),
        ownership.epoch,
        extra=deliveries[-1].where,
    )


async def _cluster(
    ownership: Ownership, fresh: list[Enriched], known: dict[str, str]
) -> BatchResult:
    """Place the batch and save it (fenced); a story that returned gets its archived topic
    back, saved in a second fenced transaction. The result of both."""
    stage, results = ownership.stage, await resources.results()
    result = await asyncio.to_thread(stage.process, fresh, known)
    await _save(results, result, ownership)
    if not result.revivals:
        return result
    wanted = sorted({topic for found in result.revivals.values() for topic in found})
    saved = await load_archived(await resources.pool(), wanted)
    revived = await asyncio.to_thread(stage.revive, result.revivals, saved)
    await _save(results, revived, ownership)
    return result.followed_by(revived)


async def _save(results: PipelineStore, result: BatchResult, ownership: Ownership) -> None:
    state = ownership.stage.state_changes()
    await results.save(result, state, ownership.epoch)
    ownership.stage.state_saved(state)


async def _saved_topics(remembered: Any, items: list[Enriched]) -> dict[str, str]:
    """The saved topics of originals of exact duplicates that the stage no longer remembers."""
    originals = {
        item.duplicate_of
        for item in items
        if item.vector is None and item.duplicate_of and remembered(item.duplicate_of) is None
    }
    return await (await resources.items()).topics_of(sorted(originals)) if originals else {}


async def _announce(result: BatchResult, records: list[EnrichedItem]) -> None:
    changes = [
        await trends_topic.send(key=trend.topic_id, value=trend.to_update(result.rank_of(trend, n)))
        for n, trend in enumerate(result.trends, start=1)
        if trend.changed
    ]
    await asyncio.gather(*changes)
    new = {record.key for record in records if record.new}  # new for its request, done or not
    await _send_reports(reports("cluster", ((r.key, r.request_id) for r in records), new))


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
    await resources.on_assigned(any(tp.topic == name for tp in assigned))


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
    name = ITEMS_ENRICHED.full_name(app.settings)
    if any(tp.topic == name for tp in revoked):
        await resources.on_revoked()


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
