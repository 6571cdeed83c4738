"""Pipeline results in PostgreSQL: all of a batch or none of it, and idempotent upserts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest

from services.processor.persist import (
    FencedError,
    PipelineStore,
    acquire,
    current_epoch,
    load_state,
)
from services.processor.pipeline import (
    BatchResult,
    HashingEmbedder,
    ItemOutcome,
    Pipeline,
    PipelineConfig,
    TopicSnapshot,
    TrendSnapshot,
)
from services.processor.store import ItemStore
from streams.config import Settings
from streams.messages.records import TrendState
from streams.servers.db import create_pool
from tests.factories import make_item

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _result(topic_id: str, trend_topic: str, keys: list[str]) -> BatchResult:
    outcomes = [ItemOutcome(key, topic_id=topic_id, language="en", at=AT) for key in keys]
    topic = TopicSnapshot(
        topic_id,
        "nimbus · outage",
        ("nimbus", "outage"),
        len(keys),
        0,
        keys[0],
        "Nimbus outage",
        AT,
        AT,
    )
    trend = TrendSnapshot(
        trend_topic,
        "nimbus · outage",
        ("nimbus",),
        TrendState.TRENDING,
        None,
        9.5,
        4,
        1.0,
        0.5,
        3.2,
        1.1,
        len(keys),
        AT,
    )
    return BatchResult(outcomes, [topic], [trend])


async def _rows(conn: asyncpg.Connection) -> tuple[int, int, int, int]:
    processed = await conn.fetchval("SELECT count(*) FROM items WHERE processed_at IS NOT NULL")
    topics = await conn.fetchval("SELECT count(*) FROM topics")
    trends = await conn.fetchval("SELECT count(*) FROM trends")
    snapshots = await conn.fetchval("SELECT count(*) FROM trend_snapshots")
    return processed, topics, trends, snapshots


async def test_a_failing_batch_writes_nothing_and_a_good_one_is_idempotent(
    test_settings: Settings,
) -> None:
    pool = await create_pool(test_settings)
    try:
        items = [make_item(), make_item(), make_item()]
        await ItemStore(pool).save(items)
        keys = [item.key for item in items]
        store = PipelineStore(pool, window_hours=6)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.save(_result("topic-1", "no-such-topic", keys))
        async with pool.acquire() as conn:
            assert await _rows(conn) == (0, 0, 0, 0)
        for _ in range(2):
            await store.save(_result("topic-1", "topic-1", keys))
        async with pool.acquire() as conn:
            assert await _rows(conn) == (3, 1, 1, 1)
            row = await conn.fetchrow("SELECT * FROM topics")
            trend = await conn.fetchrow("SELECT * FROM trends")
        assert (row["item_count"], row["keywords"]) == (3, ["nimbus", "outage"])
        assert row["representative_title"] == "Nimbus outage"
        assert (trend["state"], trend["rank"], trend["z_score"]) == ("trending", 1, 3.2)
    finally:
        await pool.close()


@pytest.mark.parametrize(("max_entities", "kept"), [(100_000, 6), (3, 3)])  # 3: rows deleted
async def test_pipeline_state_saves_changed_topics_and_loads_back(
    test_settings: Settings, max_entities: int, kept: int
) -> None:
    config = PipelineConfig(max_entities=max_entities)
    pipeline = Pipeline(config, HashingEmbedder())
    titles = ["Nimbus outage takes down apps", "Nimbus outage takes down banks"]
    pool = await create_pool(test_settings)
    try:
        store = PipelineStore(pool, window_hours=6)
        assert await load_state(pool) is None
        epoch = await acquire(pool, "test")
        places = ["Arvelholm", "Brisketon", "Corvado", "Dunmere"]
        for title, place in zip(titles * 2, places, strict=True):
            pipeline.process([make_item(title=f"{title} in {place}", published_at=AT)])
            changes = pipeline.state_changes()
            await store.save(BatchResult([], [], []), changes, epoch)
            pipeline.state_saved(changes)
        saved = await load_state(pool)
        assert saved is not None
        restored = Pipeline(config, HashingEmbedder())
        restored.restore(saved)
        assert restored.state() == pipeline.state()
        assert len(restored.stats.frequency) == kept
    finally:
        await pool.close()


async def test_a_writer_whose_epoch_was_taken_over_writes_nothing(
    test_settings: Settings,
) -> None:
    pool = await create_pool(test_settings)
    try:
        items = [make_item(), make_item()]
        await ItemStore(pool).save(items)
        keys = [item.key for item in items]
        store = PipelineStore(pool, window_hours=6)
        stale = await acquire(pool, "first")
        assert await acquire(pool, "second") == stale + 1 == await current_epoch(pool)
        with pytest.raises(FencedError, match="second"):
            await store.save(_result("topic-1", "topic-1", keys), epoch=stale)
        async with pool.acquire() as conn:
            assert await _rows(conn) == (0, 0, 0, 0)
        await store.save(_result("topic-1", "topic-1", keys), epoch=stale + 1)
        async with pool.acquire() as conn:
            assert await _rows(conn) == (2, 1, 1, 1)
    finally:
        await pool.close()


async def test_a_candidate_absorbed_before_it_was_counted_gives_its_items_to_the_kept_topic(
    test_settings: Settings,
) -> None:
    pool = await create_pool(test_settings)
    try:
        items = [make_item() for _ in range(5)]
        await ItemStore(pool).save(items)
        keys = [item.key for item in items]
        store = PipelineStore(pool, window_hours=6)
        await store.save(_result("topic-1", "topic-1", keys[:3]))
        early = [ItemOutcome(key, topic_id="candidate", language="en", at=AT) for key in keys[3:]]
        await store.save(BatchResult(early, [], []))  # below the counted size: no topic row
        grown = _result("topic-1", "topic-1", keys)  # topic-1 took the candidate in: 5 items
        await store.save(replace(grown, outcomes=[], merged={"candidate": "topic-1"}))
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT topic_id, count(*) AS n FROM items GROUP BY topic_id")
            assert {row["topic_id"]: row["n"] for row in rows} == {"topic-1": 5}
            assert await conn.fetchval("SELECT item_count FROM topics WHERE id = 'topic-1'") == 5
    finally:
        await pool.close()
