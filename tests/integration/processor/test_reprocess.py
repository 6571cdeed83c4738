"""reprocess_trends: scores and states recomputed from PostgreSQL's items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.processor.persist import PipelineStore
from services.processor.pipeline import (
    BatchResult,
    ItemOutcome,
    PipelineConfig,
    TopicSnapshot,
    TrendSnapshot,
)
from services.processor.reprocess import recompute_trends
from services.processor.store import ItemStore
from streams.config import Settings
from streams.messages.records import RawItem, TrendState
from streams.servers.db import create_pool
from tests.factories import make_item

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _items(topic: str, times: list[datetime]) -> list[tuple[RawItem, str]]:
    return [
        (make_item(title=f"{topic} news {n}", published_at=at), topic) for n, at in enumerate(times)
    ]


def _batch(placed: list[tuple[RawItem, str]]) -> BatchResult:
    outcomes = [
        ItemOutcome(item.key, topic_id=topic, at=item.published_at) for item, topic in placed
    ]
    topics = sorted({topic for _, topic in placed})
    snapshots = [TopicSnapshot(t, t, (t,), 3, 0, None, None, NOW, NOW) for t in topics]
    trends = [
        TrendSnapshot(t, t, (t,), TrendState.EMERGING, None, 1.0, 1, 0, 0, 0, 0, 3, NOW)
        for t in topics
    ]
    return BatchResult(outcomes, snapshots, trends)


async def test_a_burst_trends_and_a_silent_topic_goes_dormant(test_settings: Settings) -> None:
    steady = [NOW - timedelta(hours=6 * k + 3) for k in range(1, 10)]
    burst = [NOW - timedelta(minutes=20 * k + 5) for k in range(12)]
    silent = [NOW - timedelta(days=3, hours=k) for k in range(4)]
    placed = _items("libvarn", steady + burst) + _items("quiet", silent)
    pool = await create_pool(test_settings)
    try:
        await ItemStore(pool).save([item for item, _ in placed])
        await PipelineStore(pool, window_hours=6).save(_batch(placed))
        done = await recompute_trends(pool, PipelineConfig(), hours=24 * 4, now=NOW)
        rows = await pool.fetch("SELECT topic_id, state, previous_state, rank FROM trends")
    finally:
        await pool.close()
    trends = {row["topic_id"]: row for row in rows}
    assert (done.topics, done.changed) == (2, 2)
    assert trends["libvarn"]["state"] == "trending"
    assert trends["libvarn"]["previous_state"] == "emerging"
    assert trends["libvarn"]["rank"] == 1
    assert trends["quiet"]["state"] == "dormant"
