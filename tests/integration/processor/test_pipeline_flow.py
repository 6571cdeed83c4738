"""The corpus through the real processor: rows in PostgreSQL, topics, trends, Qdrant vectors.

Items are produced to items.raw hour by hour, as they would arrive live, each hour waiting for
the processor's report, with a processor restart in the middle of the week; quality is then read
back from PostgreSQL and trends.updates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.processor.pipeline.normalize import item_time
from services.processor.pipeline.quality import adjusted_rand_index, purity
from services.processor.vectors import ITEMS, VectorStore, qdrant_client
from streams.config import Settings
from streams.records import ProcessingReport, TrendState, TrendUpdate
from streams.topics import ITEMS_RAW, PROCESSING_REPORTS, TRENDS_UPDATES
from tests.support.corpus import LabelledItem, load_corpus, load_stories
from tests.support.kafka import partition_counts, read_all
from tests.support.workers import Worker

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
TWO_WINDOWS = timedelta(hours=12)


class Feeder:
    """Produces items to items.raw and waits for the processor's reports on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list)
        self.handled: Counter[str] = Counter()

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        topic = PROCESSING_REPORTS.full_name(self.settings)
        count = (await partition_counts(self.settings, [topic]))[topic]
        self.consumer.assign([TopicPartition(topic, p) for p in range(count)])
        await self.consumer.seek_to_beginning()

    async def stop(self) -> None:
        await self.producer.stop()
        await self.consumer.stop()

    async def feed(self, entries: list[LabelledItem], request_id: str) -> None:
        """Produce these items under one request id; return once all were reported."""
        for entry in entries:
            entry.item.request_id = request_id
            value, key = entry.item.dumps(), entry.item.key.encode()
            await self.producer.send(ITEMS_RAW.full_name(self.settings), value, key=key)
        await self.producer.flush()
        while self.handled[request_id] < len(entries):
            batches = await self.consumer.getmany(timeout_ms=60_000)
            assert batches, f"no processing report for {request_id} within 60 s"
            for record in (r for batch in batches.values() for r in batch):
                report = ProcessingReport.parse(record.value)
                self.handled[report.request_id] += report.items_handled


def _hours(corpus: list[LabelledItem]) -> list[list[LabelledItem]]:
    batches: dict[int, list[LabelledItem]] = defaultdict(list)
    for entry in corpus:
        batches[int(item_time(entry.item).timestamp() // 3600)].append(entry)
    return [batches[hour] for hour in sorted(batches)]


async def _feed_hours(settings: Settings, hours: list[list[LabelledItem]], run: str) -> None:
    feeder = Feeder(settings)
    await feeder.start()
    try:
        for number, hour in enumerate(hours):
            await feeder.feed(hour, f"{run}-{number}")
    finally:
        await feeder.stop()


async def _fetch(settings: Settings, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


def _resolver(merged: dict[str, str], counted: set[str]) -> Callable[[str | None], str | None]:
    def resolve(topic: str | None) -> str | None:
        while topic in merged:
            topic = merged[topic]
        return topic if topic in counted else None

    return resolve


async def _assignments(settings: Settings) -> tuple[dict[str, str | None], Callable]:
    topics = await _fetch(settings, "SELECT id, merged_into FROM topics")
    merged = {row["id"]: row["merged_into"] for row in topics if row["merged_into"]}
    resolve = _resolver(merged, {row["id"] for row in topics if not row["merged_into"]})
    rows = await _fetch(settings, "SELECT source || ':' || source_id AS key, topic_id FROM items")
    return {row["key"]: resolve(row["topic_id"]) for row in rows}, resolve


async def _counts(settings: Settings) -> dict[str, int]:
    counts = {}
    for table in ("items", "topics", "trends", "trend_snapshots"):
        counts[table] = (await _fetch(settings, f"SELECT count(*) AS n FROM {table}"))[0]["n"]
    counts["vectors"] = (
        await _fetch(settings, "SELECT count(*) AS n FROM items WHERE has_vector")
    )[0]["n"]
    return counts


async def _trending(settings: Settings, resolve: Callable) -> dict[str, list[TrendUpdate]]:
    values = await read_all(settings, TRENDS_UPDATES)
    updates = [TrendUpdate.parse(value) for value in values]
    trending: dict[str, list[TrendUpdate]] = defaultdict(list)
    for update in updates:
        if update.state is TrendState.TRENDING and (topic := resolve(update.topic_id)):
            trending[topic].append(update)
    return trending


async def test_corpus_becomes_topics_trends_and_vectors(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    corpus, stories = load_corpus(), load_stories()
    settings = test_settings.model_copy(update={"processor_batch_within_s": 0.2})
    hours = _hours(corpus)
    (first_worker,) = start_workers("processor", settings)
    await _feed_hours(settings, hours[: len(hours) // 2], "before")
    assert first_worker.stop() == 0  # a restart mid-week: topics must go on where they were
    (worker,) = start_workers("processor", settings)
    await _feed_hours(settings, hours[len(hours) // 2 :], "after")
    topic_of, resolve = await _assignments(settings)
    counts = await _counts(settings)
    assert len(topic_of) == counts["items"] == len(corpus)
    assert counts["trends"] == counts["topics"] >= 16
    assert counts["trend_snapshots"] >= counts["topics"]

    keys, labels = [e.item.key for e in corpus], [e.label for e in corpus]
    clusters = [topic_of[key] or f"single:{key}" for key in keys]
    assert purity(clusters, labels) >= 0.97
    assert adjusted_rand_index(clusters, labels) >= 0.92
    assert not [e.label for e in corpus if e.kind == "noise" and topic_of[e.item.key]]

    story_of = {
        t: Counter(lab for c, lab in zip(clusters, labels, strict=True) if c == t).most_common(1)[
            0
        ][0]
        for t in set(clusters)
        if not t.startswith("single:")
    }
    trending = await _trending(settings, resolve)
    for story in (s for s in stories.values() if s.kind == "burst"):
        times = [
            u.updated_at
            for t, us in trending.items()
            if story_of[t] == story.label
            for u in us
            if u.updated_at
        ]
        assert times and min(times) <= story.burst_at + TWO_WINDOWS, story.label  # type: ignore[operator]
    steady = {s.label for s in stories.values() if s.kind == "steady"}
    assert not [story_of[t] for t in trending if story_of[t] in steady]

    feeder = Feeder(settings)  # a redelivery of everything, at once: nothing may change
    await feeder.start()
    try:
        await feeder.feed(corpus, "again")
    finally:
        await feeder.stop()
    assert (await _assignments(settings))[0] == topic_of
    assert await _counts(settings) == counts

    assert worker.stop() == 0
    client = qdrant_client(settings)
    try:
        assert await VectorStore(client, settings, 384).count(ITEMS) == counts["vectors"] > 0
    finally:
        await client.close()
