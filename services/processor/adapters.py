"""The steps' ports on the real servers: item rows in PostgreSQL, vectors in Qdrant, Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from services.processor.pipeline import BatchResult, Enriched
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.resources import Resources
from services.processor.topics import enriched_topic, reports_topic, trends_topic
from services.processor.vectors import ITEMS
from streams.messages.items import vector_payload
from streams.messages.records import ProcessingReport, RawItem

__all__ = ["KafkaPublisher", "QdrantVectors", "StoredRows"]


class StoredRows:
    """ItemRows on PostgreSQL's items table (ItemStore)."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def save(self, items: Sequence[RawItem], hashes: Mapping[str, str]) -> set[str]:
        """Store the raw rows idempotently; the keys new for their request."""
        return await (await self.resources.items()).save(items, hashes)

    async def processed(self, keys: Sequence[str]) -> set[str]:
        """The keys of items processed already."""
        store = await self.resources.items()
        return set(await store.ids(keys, processed_only=True))

    async def drop(self, reasons: Mapping[str, str]) -> None:
        """Mark items processed and dropped, with why."""
        await (await self.resources.items()).drop(reasons)

    async def originals(
        self, items: Sequence[NormalizedItem], hashes: Mapping[str, str]
    ) -> list[str | None]:
        """For each item, the first stored item with its content when that is another item."""
        store = await self.resources.items()
        first = await store.originals([hashes[item.item_id] for item in items])
        found = (first.get(hashes[item.item_id]) for item in items)
        return [
            original if original != item.item_id else None
            for item, original in zip(items, found, strict=True)
        ]

    async def topics_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The saved topic of each item that has one."""
        return await (await self.resources.items()).topics_of(keys)


class QdrantVectors:
    """VectorSink on Qdrant's items collection; the rows are marked as having their vector."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def save(self, enriched: Sequence[Enriched]) -> None:
        """Upsert the embedded items' vectors (by row id), then mark their rows."""
        embedded = [entry for entry in enriched if entry.vector is not None]
        if not embedded:
            return
        store = await self.resources.items()
        ids = await store.ids([entry.item_id for entry in embedded])
        points = [(ids[e.item_id], e) for e in embedded if e.item_id in ids]
        await (await self.resources.vectors()).upsert(
            ITEMS,
            [point_id for point_id, _ in points],
            [entry.vector for _, entry in points],  # type: ignore[misc]
            [vector_payload(entry.item_id, entry.at) for _, entry in points],
        )
        await store.mark_vectors([point_id for point_id, _ in points])


class KafkaPublisher:
    """The steps' messages out: items.enriched, processing.reports, trends.updates; each
    batch waited for until the broker has all of it."""

    async def enriched(
        self, items: Sequence[Enriched], requests: Mapping[str, str | None], new: set[str]
    ) -> None:
        """Send the batch to items.enriched."""
        sent = [
            await enriched_topic.send(
                key=entry.item_id,
                value=entry.to_record(
                    requests.get(entry.item_id), new=entry.item_id in new
                ).dumps(),
            )
            for entry in items
        ]
        await asyncio.gather(*sent)

    async def reports(self, batch: Sequence[ProcessingReport]) -> None:
        """Send processing reports, keyed by request."""
        sent = [await reports_topic.send(key=report.request_id, value=report) for report in batch]
        await asyncio.gather(*sent)

    async def trends(self, result: BatchResult) -> None:
        """Announce the trends whose state changed in `result`, with their ranks."""
        changes = [
            await trends_topic.send(
                key=trend.topic_id, value=trend.to_update(result.rank_of(trend, n))
            )
            for n, trend in enumerate(result.trends, start=1)
            if trend.changed
        ]
        await asyncio.gather(*changes)


def _record(entry: Enriched, requests: Mapping[str, str | None], new: set[str]) -> bytes:
    record = entry.to_record(requests.get(entry.item_id), new=entry.item_id in new)
    return record.dumps()
