"""What a pipeline batch produced, written to PostgreSQL in one transaction, idempotently."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.processor.pipeline import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)

__all__ = ["STATE_ID", "PipelineStore", "load_state", "split_key"]

_ITEMS = """
UPDATE items SET processed_at = now(), language = b.language, topic_id = b.topic_id,
       dropped_reason = b.dropped, duplicate_of = original.id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
     AS b(source, source_id, language, topic_id, dropped, dup_source, dup_source_id)
LEFT JOIN items original
       ON original.source = b.dup_source AND original.source_id = b.dup_source_id
WHERE items.source = b.source AND items.source_id = b.source_id
"""
_TOPIC = """
INSERT INTO topics (id, label, keywords, representative_item_id, representative_title,
                    item_count, duplicates, created_at, updated_at, last_active_at)
VALUES ($1, $2, $3, (SELECT id FROM items WHERE source = $4 AND source_id = $5), $6, $7, $8,
        $9, now(), $10)
ON CONFLICT (id) DO UPDATE SET
    label = EXCLUDED.label, keywords = EXCLUDED.keywords,
    representative_item_id = EXCLUDED.representative_item_id,
    representative_title = EXCLUDED.representative_title, item_count = EXCLUDED.item_count,
    duplicates = EXCLUDED.duplicates, updated_at = now(), last_active_at = EXCLUDED.last_active_at,
    merged_into = NULL
"""
_TREND = """
INSERT INTO trends (topic_id, state, previous_state, score, velocity, acceleration, z_score,
                    z_global, window_count, item_count, rank, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (topic_id) DO UPDATE SET
    state = EXCLUDED.state, previous_state = EXCLUDED.previous_state, score = EXCLUDED.score,
    velocity = EXCLUDED.velocity, acceleration = EXCLUDED.acceleration,
    z_score = EXCLUDED.z_score, z_global = EXCLUDED.z_global,
    window_count = EXCLUDED.window_count, item_count = EXCLUDED.item_count,
    rank = EXCLUDED.rank, updated_at = EXCLUDED.updated_at
"""
_SNAPSHOT = """
INSERT INTO trend_snapshots (topic_id, bucket_start, item_count, score, state)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (topic_id, bucket_start) DO UPDATE SET
    item_count = EXCLUDED.item_count, score = EXCLUDED.score, state = EXCLUDED.state
"""
_RANK = "UPDATE trends SET rank = $2 WHERE topic_id = $1"
_MERGED = "UPDATE topics SET merged_into = $2, updated_at = now() WHERE id = $1"
_STATE = """
INSERT INTO pipeline_state (id, state, saved_at) VALUES ($1, $2::jsonb, now())
ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, saved_at = now()
"""
_TOPIC_STATE = """
INSERT INTO pipeline_topics (state_id, topic_id, position, state, saved_at)
VALUES ($1, $2, $3, $4::jsonb, now())
ON CONFLICT (state_id, topic_id) DO UPDATE SET
    position = EXCLUDED.position, state = EXCLUDED.state, saved_at = now()
"""
_TOPIC_STATE_GONE = "DELETE FROM pipeline_topics WHERE state_id = $1 AND topic_id = ANY($2::text[])"
_LOAD_TOPICS = """
SELECT position, state::text FROM pipeline_topics WHERE state_id = $1 ORDER BY position
"""
STATE_ID = "processor"
"""The pipeline state's row (one per database: one clustering processor per environment)."""


def split_key(key: str | None) -> tuple[str | None, str | None]:
    """(source, source_id) of an item key `source:source_id`."""
    if key is None:
        return None, None
    source, _, source_id = key.partition(":")
    return source, source_id


def _bucket(at: datetime, hours: float) -> datetime:
    width = timedelta(hours=hours).total_seconds()
    return datetime.fromtimestamp(at.timestamp() // width * width, UTC)


class PipelineStore:
    """Items' outcomes, topics, trends and trend snapshots; a redelivered batch changes nothing."""

    def __init__(self, pool: asyncpg.Pool, window_hours: float) -> None:
        self.pool = pool
        self.window_hours = window_hours

    async def save(self, result: BatchResult, state: StateChanges | None = None) -> None:
        """Write one batch's result, and what changed in the pipeline's state, in one
        transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            if state is not None:
                await _save_state(conn, state)
            await conn.execute(_ITEMS, *_item_columns(result.outcomes))
            await conn.executemany(_TOPIC, [_topic_row(t) for t in result.topics])
            trends = list(enumerate(result.trends, start=1))
            await conn.executemany(_TREND, [_trend_row(t, result.rank_of(t, n)) for n, t in trends])
            await conn.executemany(_SNAPSHOT, [self._snapshot_row(t) for t in result.trends])
            await conn.executemany(_RANK, _moved_ranks(result))
            await conn.executemany(_MERGED, list(result.merged.items()))

    def _snapshot_row(self, trend: TrendSnapshot) -> tuple[object, ...]:
        bucket = _bucket(trend.at, self.window_hours)
        return (trend.topic_id, bucket, trend.window_count, trend.score, trend.state.value)


async def _save_state(conn: PoolConnectionProxy, state: StateChanges) -> None:
    """The state's head row, the changed topics' rows; removed topics' rows deleted."""
    await conn.execute(_STATE, STATE_ID, json.dumps(state.head))
    rows = [
        (STATE_ID, topic["topic_id"], position, json.dumps(topic))
        for position, topic in state.topics.changed
    ]
    await conn.executemany(_TOPIC_STATE, rows)
    if state.topics.removed:
        await conn.execute(_TOPIC_STATE_GONE, STATE_ID, state.topics.removed)


def _moved_ranks(result: BatchResult) -> list[tuple[str, int]]:
    """New ranks of topics whose trend was not recomputed but was overtaken (or overtook)."""
    listed = {trend.topic_id for trend in result.trends}
    return [(topic, rank) for topic, rank in result.ranks.items() if topic not in listed]


def _item_columns(outcomes: Sequence[ItemOutcome]) -> list[list[str | None]]:
    rows = []
    for outcome in outcomes:
        source, source_id = split_key(outcome.item_id)
        dup_source, dup_source_id = split_key(outcome.duplicate_of)
        dropped = outcome.dropped.value if outcome.dropped else None
        rows.append(
            [
                source,
                source_id,
                outcome.language,
                outcome.topic_id,
                dropped,
                dup_source,
                dup_source_id,
            ]
        )
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 7


def _topic_row(topic: TopicSnapshot) -> tuple[object, ...]:
    source, source_id = split_key(topic.representative_id)
    return (
        topic.topic_id,
        topic.label,
        list(topic.keywords),
        source,
        source_id,
        topic.representative_title,
        topic.size,
        topic.duplicates,
        topic.created_at,
        topic.last_active,
    )


def _trend_row(trend: TrendSnapshot, rank: int) -> tuple[object, ...]:
    previous = trend.previous_state.value if trend.previous_state else None
    return (
        trend.topic_id,
        trend.state.value,
        previous,
        trend.score,
        trend.velocity,
        trend.acceleration,
        trend.z_score,
        trend.z_global,
        trend.window_count,
        trend.item_count,
        rank,
        trend.at,
    )


async def load_state(pool: asyncpg.Pool) -> tuple[dict[str, Any], bool] | None:
    """The pipeline state saved with the last batch (None before the first one), in the form
    Pipeline.state() gives, and whether its topics are saved apart already (False for a state
    saved whole by an earlier version: its topics are all to be saved in rows)."""
    async with pool.acquire() as conn:
        saved = await conn.fetchval(
            "SELECT state::text FROM pipeline_state WHERE id = $1", STATE_ID
        )
        if not saved:
            return None
        state: dict[str, Any] = json.loads(saved)
        if "clusterer" in state:
            return state, False
        rows = await conn.fetch(_LOAD_TOPICS, STATE_ID)
    topics = [{**json.loads(row["state"]), "position": row["position"]} for row in rows]
    return {**state, "clusterer": {"topics": topics}}, True
