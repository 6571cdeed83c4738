"""Rebuilding the topics from the log: items.enriched replayed through a shadow cluster stage."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.processor.pipeline import ClusterStage, Enriched, PipelineConfig
from services.processor.pipeline.pipeline import MemoryStage
from services.processor.pipeline.placements import Placements, resolve
from services.processor.pipeline.quality import adjusted_rand_index, clusters_with_singletons
from services.processor.pipeline.steps import cluster_batch, run_inline
from services.processor.pipeline.topic import bucket_of
from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import EnrichedItem
from streams.messages.topics import ITEMS_ENRICHED

__all__ = ["Change", "Logged", "Shadow", "change", "live_topics", "live_trends", "read_enriched"]

_TOPICS = "SELECT id, merged_into FROM topics"
_ITEMS = """
SELECT source || ':' || source_id AS key, topic_id FROM items
WHERE source || ':' || source_id = ANY($1::text[])
"""
_TRENDS = """
SELECT t.label, tr.state, tr.score FROM trends tr JOIN topics t ON t.id = tr.topic_id
WHERE t.merged_into IS NULL ORDER BY tr.score DESC, t.id LIMIT $1
"""


@dataclass(frozen=True)
class Logged:
    """What items.enriched holds from a moment on: each item once, in log order."""

    items: list[Enriched]
    undecodable: int
    """Messages that are not an enriched item (dead-lettered when they arrived)."""
    first_at: datetime | None
    """The log time of the first message replayed."""


async def read_enriched(settings: Settings, since: datetime, timeout: float = 300.0) -> Logged:
    """items.enriched from its first message logged at or after `since` up to its end as of
    the call (an item logged twice, by a redelivery, taken once, first)."""
    name = ITEMS_ENRICHED.full_name(settings)
    partitions = [TopicPartition(name, p) for p in range(ITEMS_ENRICHED.partition_count(settings))]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        for tp in partitions:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        return await _read_to(consumer, ends, time.monotonic() + timeout)
    finally:
        await consumer.stop()


async def _read_to(
    consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int], deadline: float
) -> Logged:
    items: dict[str, Enriched] = {}
    undecodable, first = 0, None
    while any([await consumer.position(tp) < end for tp, end in ends.items()]):
        if time.monotonic() > deadline:
            raise TimeoutError("items.enriched could not be read to its end in time")
        for tp, messages in (await consumer.getmany(*ends, timeout_ms=500)).items():
            for message in messages:
                if message.offset >= ends[tp]:
                    continue
                if first is None:
                    first = datetime.fromtimestamp(message.timestamp / 1000, UTC)
                try:
                    record = EnrichedItem.parse(message.value or b"")
                except RecordValidationError:
                    undecodable += 1
                    continue
                items.setdefault(record.key, Enriched.from_record(record))
    return Logged(list(items.values()), undecodable, first)


class Shadow:
    """A cluster stage of the current settings that nothing reads: the log replayed through it
    by the path the live stage runs (steps.cluster_batch), in memory."""

    def __init__(self, config: PipelineConfig, dimension: int) -> None:
        self.stage = ClusterStage(config, dimension, keep_archived=True)
        self.placements = Placements()

    def replay(self, items: Sequence[Enriched], batch_size: int) -> None:
        """Place the items in time order, in batches of one activity bucket of item time
        (an hour) and at most `batch_size`: as `evaluate` feeds a corpus, so that a replay
        equals a fresh run of the same settings over the same items."""
        memory = MemoryStage(self.stage)
        for batch in _batches(items, self.stage.config, batch_size):
            self.placements.add(run_inline(cluster_batch(self.stage, batch, {}, memory)))

    def topics(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Each item's counted topic in the shadow (None: in none)."""
        return self.placements.final(keys)

    def trends(self, top: int) -> list[dict[str, Any]]:
        """The shadow's `top` trends, highest score first."""
        return [_trend(t.label, t.state.value, t.score) for t in self.stage.trends()[:top]]


def _batches(items: Sequence[Enriched], config: PipelineConfig, size: int) -> list[list[Enriched]]:
    """The items in time order, cut at each bucket's end and every `size` items."""
    batches: list[list[Enriched]] = []
    last = None
    for item in sorted(items, key=lambda item: item.at):
        bucket = bucket_of(item.at, config)
        if bucket != last or len(batches[-1]) >= size:
            batches.append([])
            last = bucket
        batches[-1].append(item)
    return batches


def _trend(label: str, state: str, score: float) -> dict[str, Any]:
    return {"label": label, "state": state, "score": round(score, 3)}


async def live_topics(pool: asyncpg.Pool, keys: Sequence[str]) -> dict[str, str | None]:
    """Each item's topic as the live stage saved it (merges followed; None: in no saved
    topic, e.g. a candidate below `min_topic_size`, which has no row)."""
    topics = await pool.fetch(_TOPICS)
    merged = {row["id"]: row["merged_into"] for row in topics if row["merged_into"]}
    counted = {row["id"] for row in topics if not row["merged_into"]}
    found = {row["key"]: resolve(row["topic_id"], merged) for row in await pool.fetch(_ITEMS, keys)}
    return {key: found.get(key) if found.get(key) in counted else None for key in keys}


async def live_trends(pool: asyncpg.Pool, top: int) -> list[dict[str, Any]]:
    """The live stage's `top` trends as saved, highest score first."""
    return [_trend(r["label"], r["state"], r["score"]) for r in await pool.fetch(_TRENDS, top)]


@dataclass(frozen=True)
class Change:
    """How a rebuild would move the items of a span between topics."""

    items: int
    topics_before: int
    topics_after: int
    merged: int
    """Topics after that hold most of the items of two topics before or more."""
    split: int
    """Topics before whose items went to two topics after or more, two items each at least."""
    moved: int
    """Items whose topic after is not where most of their topic before went, and items in no
    topic before that are in one after (or the other way round)."""
    agreement: float
    """Adjusted Rand index of the topics after against those before (1: the same)."""

    def as_dict(self) -> dict[str, Any]:
        """The figures, JSON-ready."""
        return {**asdict(self), "agreement": round(self.agreement, 4)}


def change(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> Change:
    """The change from `before` to `after` (the same items, each with its topic or None)."""
    keys = list(before)
    old = clusters_with_singletons(keys, before)
    new = clusters_with_singletons(keys, after)
    spread: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for was, now in zip(old, new, strict=True):
        spread[was][now] += 1
    counted_before, counted_after = set(before.values()), set(after.values())
    home = {
        was: places.most_common(1)[0][0] if was in counted_before else was
        for was, places in spread.items()
    }
    homes = Counter(home[was] for was in spread if was in counted_before)
    return Change(
        items=len(keys),
        topics_before=len({t for t in before.values() if t}),
        topics_after=len({t for t in counted_after if t}),
        merged=sum(1 for topic, n in homes.items() if n >= 2 and topic in counted_after),
        split=sum(
            1
            for was, places in spread.items()
            if was in counted_before
            and sum(n >= 2 for now, n in places.items() if now in counted_after) >= 2
        ),
        moved=sum(1 for was, now in zip(old, new, strict=True) if now != home[was]),
        agreement=adjusted_rand_index(new, old) if keys else 1.0,
    )
