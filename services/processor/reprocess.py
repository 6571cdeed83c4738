"""Recomputing trends from PostgreSQL: the scores and states of topics active in the last hours."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.processor.pipeline import PipelineConfig
from services.processor.pipeline.cluster import bucket_of
from services.processor.pipeline.scoring import Activity, heat, latest_trend
from streams.messages.records import utcnow

__all__ = ["Recomputed", "recompute_trends"]

_ACTIVITY = """
SELECT i.topic_id, coalesce(i.published_at, i.collected_at) AS at,
       coalesce(i.score, 0) AS score, coalesce(i.comments, 0) AS comments
FROM items i JOIN topics t ON t.id = i.topic_id AND t.merged_into IS NULL
WHERE i.duplicate_of IS NULL AND i.dropped_reason IS NULL AND i.topic_id IN (
    SELECT DISTINCT topic_id FROM items
    WHERE topic_id IS NOT NULL AND coalesce(published_at, collected_at) >= $1)
"""
_UPSERT = """
UPDATE trends SET previous_state = state, state = $2, score = $3, velocity = $4,
       acceleration = $5, z_score = $6, window_count = $7, item_count = $8, updated_at = $9
WHERE topic_id = $1
"""


@dataclass(frozen=True)
class Recomputed:
    """How many topics were rescored, and how many changed state."""

    topics: int
    changed: int


def _buckets(rows: list[asyncpg.Record], config: PipelineConfig) -> dict[str, dict[int, Activity]]:
    topics: dict[str, dict[int, Activity]] = defaultdict(dict)
    for row in rows:
        bucket = topics[row["topic_id"]].setdefault(bucket_of(row["at"], config), Activity())
        bucket.add(Activity(1, int(row["score"]), int(row["comments"])))
    return topics


@dataclass(frozen=True)
class _Scored:
    state: str
    score: float
    velocity: float
    acceleration: float
    z_score: float
    window_count: int
    item_count: int

    def row(self) -> tuple[object, ...]:
        return (
            self.state,
            self.score,
            self.velocity,
            self.acceleration,
            self.z_score,
            self.window_count,
            self.item_count,
        )


def _trend(activity: dict[int, Activity], now: int, config: PipelineConfig) -> _Scored:
    first = min(activity)
    series = [activity.get(b, Activity()) for b in range(first, now + 1)]
    point = latest_trend([a.count for a in series], config)
    score = heat(series[-config.window_buckets :], config) * (1 + max(point.z_score, 0.0))
    return _Scored(
        point.state.value,
        score,
        point.velocity,
        point.acceleration,
        point.z_score,
        point.count,
        sum(a.count for a in series),
    )


async def recompute_trends(
    pool: asyncpg.Pool, config: PipelineConfig, hours: int, now: datetime | None = None
) -> Recomputed:
    """Rescore every topic with items in the last `hours`, in one transaction.

    Ranks are left as they are: they order all topics, and only the cluster stage sees all
    of them (ranking this subset among itself gave topics out of it stale ranks).
    """
    now = now or utcnow()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_ACTIVITY, now - timedelta(hours=hours))
        trends = {
            topic: _trend(a, bucket_of(now, config), config)
            for topic, a in _buckets(rows, config).items()
        }
        rows = await conn.fetch(
            "SELECT topic_id, state FROM trends WHERE topic_id = ANY($1::text[])", list(trends)
        )
        before = {row["topic_id"]: row["state"] for row in rows}
        await conn.executemany(
            _UPSERT,
            [(topic, *scored.row(), now) for topic, scored in trends.items()],
        )
    changed = sum(1 for topic, scored in trends.items() if before.get(topic) != scored.state)
    return Recomputed(len(trends), changed)
