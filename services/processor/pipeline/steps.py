"""The two steps of a batch, called alike by the processor's agents and the in-memory Pipeline.

Each step is a function over ports (Protocols): the agents pass PostgreSQL, Qdrant and Kafka
(services/processor/adapters.py) and the cluster stage's fenced owner; `Pipeline` passes
memory. So evaluate, the unit tests and the benches run the production path.

    enrich_batch:  raw items -> rows stored -> normalised -> exact duplicates -> names and
                   embeddings -> vectors -> items.enriched (+ reports of items finished here)
    unplaced:      enriched items -> those not processed yet, and the saved topics of their
                   originals that the stage no longer remembers
    cluster_batch: the stage places them -> one fenced save -> archived topics revived (a
                   second fenced save) -> the batch's result
    rescore:       the stage's clock moved on with no items (a silent stream) -> expiry and
                   trends rescored by the stage's own score function -> one fenced save
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from services.processor.pipeline.clustering import ClusterStage
from services.processor.pipeline.enrich import Enriched, Enricher
from services.processor.pipeline.normalize import Dropped, NormalizedItem
from services.processor.pipeline.results import BatchResult
from streams.messages.items import content_hash
from streams.messages.records import ProcessingReport, RawItem

__all__ = [
    "EnrichedBatch",
    "ItemRows",
    "Offload",
    "Publisher",
    "StageStore",
    "VectorSink",
    "cluster_batch",
    "enrich_batch",
    "inline",
    "reports",
    "rescore",
    "run_inline",
    "unplaced",
]

T = TypeVar("T")
Offload = Callable[..., Awaitable[Any]]
"""Runs a CPU-bound call (`offload(fn, *args)`): asyncio.to_thread in the agents, `inline`
in memory."""


class ItemRows(Protocol):
    """The stored items: rows, processing marks, content hashes, saved topics."""

    async def save(self, items: Sequence[RawItem], hashes: Mapping[str, str]) -> set[str]:
        """Store the raw items (idempotent); the keys new for their request."""

    async def processed(self, keys: Sequence[str]) -> set[str]:
        """The keys of items processed already (a redelivery)."""

    async def drop(self, reasons: Mapping[str, str]) -> None:
        """Mark items dropped, with why."""

    async def originals(
        self, items: Sequence[NormalizedItem], hashes: Mapping[str, str]
    ) -> list[str | None]:
        """For each item, the item it repeats exactly (same content hash), if another."""

    async def topics_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The saved topic of each item that has one."""


class VectorSink(Protocol):
    """Where item embeddings are kept for search."""

    async def save(self, enriched: Sequence[Enriched]) -> None:
        """Keep the vectors of the embedded items."""


class Publisher(Protocol):
    """The enrich step's messages out: items.enriched and processing reports."""

    async def enriched(
        self, items: Sequence[Enriched], requests: Mapping[str, str | None], new: set[str]
    ) -> None:
        """Send the enriched items on (and wait until the broker has them)."""

    async def reports(self, batch: Sequence[ProcessingReport]) -> None:
        """Send processing reports."""


class StageStore(Protocol):
    """Where the cluster stage's batches are saved (fenced by the owner epoch in production)
    and archived topics are read back from."""

    async def save(self, result: BatchResult) -> None:
        """Write a batch's result and the stage's state changes together."""

    async def archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of archived topics, by id (those not archived left out)."""


async def inline(function: Callable[..., T], *args: Any) -> T:
    """An Offload that runs the call here (in memory: nothing else to keep going)."""
    return function(*args)


def run_inline(step: Coroutine[Any, Any, T]) -> T:
    """Run a step whose ports never wait (the in-memory ones), without an event loop, so
    that it can be called from sync code and from inside a running loop alike."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    raise RuntimeError("an in-memory step waited for something: a port is not in memory")


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


@dataclass(frozen=True)
class EnrichedBatch:
    """What the enrich step did with a batch."""

    enriched: list[Enriched]
    """The items sent on to the cluster stage."""
    dropped: list[Dropped]
    done: set[str]
    """Keys of items processed already (a redelivery): reported, not sent on."""


async def enrich_batch(
    items: Sequence[RawItem],
    enricher: Enricher,
    rows: ItemRows,
    vectors: VectorSink,
    publisher: Publisher,
    *,
    offload: Offload = inline,
) -> EnrichedBatch:
    """One batch of raw items through the enrich stage.

    Raw rows are stored idempotently; items processed already (a redelivery) and items
    dropped are reported here; the others are enriched (an exact repeat of a stored item is
    not embedded) and published.
    """
    kept, dropped = await offload(enricher.normalize, items)
    hashes = {item.item_id: content_hash(item.title, item.text) for item in kept}
    new = await rows.save(items, hashes)
    done = await rows.processed([item.key for item in items])
    await rows.drop({entry.item_id: entry.reason.value for entry in dropped})
    fresh = [item for item in kept if item.item_id not in done]
    enriched = await offload(enricher.enrich, fresh, await rows.originals(fresh, hashes))
    await vectors.save(enriched)
    requests = {item.key: item.request_id for item in items}
    await publisher.enriched(enriched, requests, new)
    finished = [e.item_id for e in dropped] + [key for key in requests if key in done]
    await publisher.reports(reports("enrich", ((k, requests[k]) for k in finished), new))
    return EnrichedBatch(enriched, dropped, done)


async def unplaced(
    stage: ClusterStage, items: Sequence[Enriched], rows: ItemRows
) -> tuple[list[Enriched], dict[str, str], set[str]]:
    """The items not processed yet; the saved topics of originals of exact duplicates that
    the stage no longer remembers (placed before it was restored); the keys processed."""
    done = await rows.processed([item.item_id for item in items])
    fresh = [item for item in items if item.item_id not in done]
    remembered = stage.clusterer.topic_of
    originals = {
        item.duplicate_of
        for item in fresh
        if item.vector is None and item.duplicate_of and remembered(item.duplicate_of) is None
    }
    known = await rows.topics_of(sorted(originals)) if originals else {}
    return fresh, known, done


async def cluster_batch(
    stage: ClusterStage,
    items: Sequence[Enriched],
    known: Mapping[str, str],
    store: StageStore,
    *,
    offload: Offload = inline,
) -> BatchResult:
    """Place the batch and save it; a story that returned gets its archived topic back,
    saved in a second write. The result of both."""
    result: BatchResult = await offload(stage.process, items, known)
    await store.save(result)
    if not result.revivals:
        return result
    wanted = list(dict.fromkeys(t for found in result.revivals.values() for t in found))
    saved = await store.archived(wanted)
    revived: BatchResult = await offload(stage.revive, result.revivals, saved)
    await store.save(revived)
    return result.followed_by(revived)


async def rescore(
    stage: ClusterStage, at: datetime, store: StageStore, *, offload: Offload = inline
) -> BatchResult:
    """Move the stage's clock to `at` (never back) and settle it as after a batch without
    items: expiry, and the trends of every live topic rescored when a new bucket began
    (silent topics cool down, go dormant); then save that."""
    stage.now = max(stage.now or at, at)
    result: BatchResult = await offload(stage.process, [])
    await store.save(result)
    return result
