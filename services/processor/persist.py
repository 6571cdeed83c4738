"""What the cluster stage produced, written to PostgreSQL in one fenced transaction per batch."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.processor.owner import FencedError
from services.processor.pipeline import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)
from streams.messages import items

__all__ = [
    "STATE_ID",
    "FencedError",
    "OwnerStore",
    "PipelineStore",
    "acquire",
    "current_epoch",
    "current_owner",
    "load_archived",
    "load_state",
    "split_key",
]

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
_ADOPTED = """
UPDATE items SET topic_id = $2
WHERE topic_id = $1 AND NOT EXISTS (SELECT 1 FROM topics WHERE id = $1)
"""
"""A candidate absorbed before it was ever counted has no row to mark: its items move to the
topic that took them in (whose item_count includes them)."""
_STATE = """
INSERT INTO pipeline_state (id, state, saved_at) VALUES ($1, $2::jsonb, now())
ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, saved_at = now()
"""
_TOPIC_STATE = """
INSERT INTO pipeline_topics (state_id, topic_id, position, state, saved_at)
VALUES ($1, $2, $3, $4::jsonb, now())
ON CONFLICT (state_id, topic_id) DO UPDATE SET
    position = EXCLUDED.position, state = EXCLUDED.state, saved_at = now(), archived_at = NULL
"""
_TOPIC_STATE_GONE = "DELETE FROM pipeline_topics WHERE state_id = $1 AND topic_id = ANY($2::text[])"
_ENTITIES = """
INSERT INTO pipeline_entities (state_id, entity, frequency)
SELECT $1, entity, frequency FROM unnest($2::text[], $3::int[]) AS e(entity, frequency)
ON CONFLICT (state_id, entity) DO UPDATE SET frequency = EXCLUDED.frequency
"""
_TOPIC_STATE_ARCHIVED = """
UPDATE pipeline_topics SET archived_at = now() WHERE state_id = $1 AND topic_id = ANY($2::text[])
"""
_ENTITIES_GONE = "DELETE FROM pipeline_entities WHERE state_id = $1 AND entity = ANY($2::text[])"
_LOAD_TOPICS = """
SELECT position, state::text FROM pipeline_topics
WHERE state_id = $1 AND archived_at IS NULL ORDER BY position
"""
_LOAD_ARCHIVE = """
SELECT topic_id, state->>'vector_sum' AS vector_sum, state->>'last_active' AS last_active
FROM pipeline_topics WHERE state_id = $1 AND archived_at IS NOT NULL
"""
_LOAD_ARCHIVED = """
SELECT topic_id, state::text FROM pipeline_topics
WHERE state_id = $1 AND archived_at IS NOT NULL AND topic_id = ANY($2::text[])
"""
_ACQUIRE = """
INSERT INTO pipeline_owner (id, epoch, owner, acquired_at) VALUES ($1, 1, $2, now())
ON CONFLICT (id) DO UPDATE SET epoch = pipeline_owner.epoch + 1, owner = EXCLUDED.owner,
                               acquired_at = now()
RETURNING epoch
"""
_FENCE = "SELECT epoch, owner FROM pipeline_owner WHERE id = $1 FOR UPDATE"
STATE_ID = "processor"
"""The cluster stage's state (one per database: one cluster writer at a time, fenced)."""


async def acquire(pool: asyncpg.Pool, owner: str) -> int:
    """Become the cluster stage's writer: bump the owner epoch and return it.

    Waits for a write in flight under the previous epoch (it holds the row), so that state
    loaded after this call includes it; from now on writes under older epochs are refused.
    """
    epoch: int = await pool.fetchval(_ACQUIRE, STATE_ID, owner)
    return epoch


async def current_epoch(pool: asyncpg.Pool) -> int:
    """The owner epoch now (0 before any owner)."""
    return (await current_owner(pool))[0]


async def current_owner(pool: asyncpg.Pool) -> tuple[int, str | None]:
    """The owner epoch now and who holds it ((0, None) before any owner)."""
    row = await pool.fetchrow("SELECT epoch, owner FROM pipeline_owner WHERE id = $1", STATE_ID)
    return (int(row["epoch"]), row["owner"]) if row else (0, None)


def split_key(key: str | None) -> tuple[str | None, str | None]:
    """(source, source_id) of an item key (streams.messages.items), (None, None) for None."""
    return (None, None) if key is None else items.split_key(key)


def _bucket(at: datetime, hours: float) -> datetime:
    width = timedelta(hours=hours).total_seconds()
    return datetime.fromtimestamp(at.timestamp() // width * width, UTC)


class PipelineStore:
    """Items' outcomes, topics, trends and trend snapshots; a redelivered batch changes nothing."""

    def __init__(self, pool: asyncpg.Pool, window_hours: float) -> None:
        self.pool = pool
        self.window_hours = window_hours

    async def save(
        self, result: BatchResult, state: StateChanges | None = None, epoch: int | None = None
    ) -> None:
        """Write one batch's result, and what changed in the stage's state, in one
        transaction; with `epoch`, only while it is still the owner epoch (else FencedError,
        and nothing is written)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if epoch is not None:
                await _fence(conn, epoch)
            if state is not None:
                await _save_state(conn, state, epoch)
            await conn.execute(_ITEMS, *_item_columns(result.outcomes))
            await conn.executemany(_TOPIC, [_topic_row(t) for t in result.topics])
            trends = list(enumerate(result.trends, start=1))
            await conn.executemany(_TREND, [_trend_row(t, result.rank_of(t, n)) for n, t in trends])
            await conn.executemany(_SNAPSHOT, [self._snapshot_row(t) for t in result.trends])
            await conn.executemany(_RANK, _moved_ranks(result))
            await conn.executemany(_ADOPTED, list(result.merged.items()))
            await conn.executemany(_MERGED, list(result.merged.items()))

    def _snapshot_row(self, trend: TrendSnapshot) -> tuple[object, ...]:
        bucket = _bucket(trend.at, self.window_hours)
        return (trend.topic_id, bucket, trend.window_count, trend.score, trend.state.value)


async def _fence(conn: PoolConnectionProxy, epoch: int) -> None:
    """Refuse the transaction unless `epoch` is still the owner epoch (locking it till the end)."""
    row = await conn.fetchrow(_FENCE, STATE_ID)
    if row is None or row["epoch"] != epoch:
        now = row["epoch"] if row else None
        owner = row["owner"] if row else None
        raise FencedError(f"cluster stage taken over: epoch {now} by {owner}, this writer {epoch}")


async def _save_state(conn: PoolConnectionProxy, state: StateChanges, epoch: int | None) -> None:
    """The state's head row (with the writer's epoch), the changed topics' and entities' rows;
    removed topics deleted."""
    await conn.execute(_STATE, STATE_ID, json.dumps({**state.head, "epoch": epoch}))
    counted = {entity: n for entity, n in state.entities.items() if n > 0}
    if counted:
        await conn.execute(_ENTITIES, STATE_ID, list(counted), list(counted.values()))
    forgotten = [entity for entity, n in state.entities.items() if n <= 0]
    if forgotten:
        await conn.execute(_ENTITIES_GONE, STATE_ID, forgotten)
    rows = [
        (STATE_ID, topic["topic_id"], position, json.dumps(topic))
        for position, topic in state.topics.changed
    ]
    await conn.executemany(_TOPIC_STATE, rows)
    if state.topics.removed:
        await conn.execute(_TOPIC_STATE_GONE, STATE_ID, state.topics.removed)
    if state.topics.archived:
        await conn.execute(_TOPIC_STATE_ARCHIVED, STATE_ID, state.topics.archived)


def _moved_ranks(result: BatchResult) -> list[tuple[str, int | None]]:
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


def _trend_row(trend: TrendSnapshot, rank: int | None) -> tuple[object, ...]:
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


async def load_state(pool: asyncpg.Pool) -> dict[str, Any] | None:
    """The cluster stage's state as saved after the last batch (None before the first one),
    in the form ClusterStage.state() gives."""
    async with pool.acquire() as conn:
        saved = await conn.fetchval(
            "SELECT state::text FROM pipeline_state WHERE id = $1", STATE_ID
        )
        if not saved:
            return None
        rows = await conn.fetch(_LOAD_TOPICS, STATE_ID)
        archive = await conn.fetch(_LOAD_ARCHIVE, STATE_ID)
        entities = await conn.fetch(
            "SELECT entity, frequency FROM pipeline_entities WHERE state_id = $1", STATE_ID
        )
    topics = [{**json.loads(row["state"]), "position": row["position"]} for row in rows]
    archived = [dict(row) for row in archive]
    frequency = {row["entity"]: row["frequency"] for row in entities}
    clusterer = {"topics": topics, "archived": archived}
    return {**json.loads(saved), "frequency": frequency, "clusterer": clusterer}


async def load_archived(pool: asyncpg.Pool, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The saved states of archived topics, by id (those not archived are left out)."""
    rows = await pool.fetch(_LOAD_ARCHIVED, STATE_ID, topic_ids)
    return {row["topic_id"]: json.loads(row["state"]) for row in rows}


class OwnerStore:
    """The cluster stage owner's port on PostgreSQL (a FencedStore): the owner epoch, the
    saved state and the fenced batch writes, each on the pool as it is when asked."""

    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]], window_hours: float) -> None:
        self.pool = pool
        self.window_hours = window_hours

    async def acquire(self, owner: str) -> int:
        """Bump the owner epoch for `owner` and return it (see `acquire`)."""
        return await acquire(await self.pool(), owner)

    async def current_owner(self) -> tuple[int, str | None]:
        """The owner epoch now and who holds it."""
        return await current_owner(await self.pool())

    async def load_state(self) -> dict[str, Any] | None:
        """The stage's saved state (see `load_state`)."""
        return await load_state(await self.pool())

    async def load_archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of archived topics, by id."""
        return await load_archived(await self.pool(), topic_ids)

    async def save(self, result: BatchResult, state: StateChanges, epoch: int) -> None:
        """One batch and the state's changes, in one transaction fenced by `epoch`."""
        await PipelineStore(await self.pool(), self.window_hours).save(result, state, epoch)
