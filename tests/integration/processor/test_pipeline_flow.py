"""The corpus through the real processor: rows in PostgreSQL, topics, trends, Qdrant vectors."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from services.processor.pipeline.quality import adjusted_rand_index, purity
from services.processor.vectors import ITEMS, VectorStore, qdrant_client
from streams.config import Settings
from streams.records import ProcessingReport
from streams.topics import ITEMS_RAW, PROCESSING_REPORTS
from tests.support.corpus import LabelledItem, load_corpus
from tests.support.kafka import read_until
from tests.support.workers import Worker

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]


async def _produce_corpus(settings: Settings, corpus: list[LabelledItem], request_id: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list)
    await producer.start()
    try:
        for entry in sorted(corpus, key=lambda e: e.item.published_at or e.item.collected_at):
            item = entry.item
            item.request_id = request_id
            await producer.send(ITEMS_RAW.full_name(settings), item.dumps(), key=item.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _handled(settings: Settings, request_id: str, total: int) -> None:
    def done(values: list[bytes]) -> bool:
        reports = [ProcessingReport.parse(v) for v in values]
        return sum(r.items_handled for r in reports if r.request_id == request_id) >= total

    values = await read_until(settings, PROCESSING_REPORTS, done, timeout=300)
    assert done(values), f"the processor did not report all {total} items of {request_id}"


async def _assignments(settings: Settings) -> dict[str, str | None]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            "SELECT i.source || ':' || i.source_id AS key, t.id AS topic FROM items i "
            "LEFT JOIN topics t ON t.id = i.topic_id AND t.merged_into IS NULL "
            "WHERE i.processed_at IS NOT NULL"
        )
    finally:
        await conn.close()
    return {row["key"]: row["topic"] for row in rows}


async def _counts(settings: Settings) -> dict[str, int]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("items", "topics", "trends", "trend_snapshots")
        } | {"vectors": await conn.fetchval("SELECT count(*) FROM items WHERE has_vector")}
    finally:
        await conn.close()


async def test_corpus_becomes_topics_trends_and_vectors(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    corpus = load_corpus()
    (worker,) = start_workers("processor", test_settings)
    await _produce_corpus(test_settings, corpus, "flow-1")
    await _handled(test_settings, "flow-1", len(corpus))
    first = await _assignments(test_settings)
    counts = await _counts(test_settings)
    assert len(first) == counts["items"] == len(corpus)
    assert counts["topics"] >= 12
    assert counts["trends"] == counts["topics"]
    assert counts["trend_snapshots"] >= counts["topics"]

    keys = [entry.item.key for entry in corpus]
    clusters = [first[key] or f"single:{key}" for key in keys]
    labels = [entry.label for entry in corpus]
    assert purity(clusters, labels) >= 0.9
    assert adjusted_rand_index(clusters, labels) >= 0.8

    await _produce_corpus(test_settings, corpus, "flow-2")
    await _handled(test_settings, "flow-2", len(corpus))
    assert await _assignments(test_settings) == first
    assert await _counts(test_settings) == counts

    assert worker.stop() == 0
    client = qdrant_client(test_settings)
    try:
        assert await VectorStore(client, test_settings, 384).count(ITEMS) == counts["vectors"] > 0
    finally:
        await client.close()
