"""The processor's cleanup: its old items, trend snapshots, trends and topics, then the vectors."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg
from qdrant_client import AsyncQdrantClient

from streams.config import Settings
from streams.messages.records import utcnow
from streams.servers.db.retention import CleanupReport, Target, delete_old
from streams.servers.vectors import ITEMS, flush_deletions, qdrant_client

__all__ = ["TARGETS", "cleanup", "flush_vector_deletions"]

log = logging.getLogger(__name__)

TARGETS = (
    Target("items", "collected_at < $1"),
    Target("trend_snapshots", "bucket_start < $1"),
    Target("trends", "updated_at < $1"),
    Target(
        "topics",
        "coalesce(last_active_at, updated_at) < $1 "
        "AND NOT EXISTS (SELECT 1 FROM items i WHERE i.topic_id = topics.id)",
    ),
)
"""The processor's tables, in this order: items before the topics they keep alive."""

_ITEMS_WITH_VECTORS = """
WITH gone AS (
    DELETE FROM items WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM items WHERE {old} LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING id, has_vector
), queued AS (
    INSERT INTO vector_deletions (collection, point_id)
    SELECT $3, id FROM gone WHERE has_vector ON CONFLICT DO NOTHING
)
SELECT count(*) FROM gone
"""


async def _delete(pool: asyncpg.Pool, target: Target, cutoff: datetime, size: int) -> int:
    """A table's old rows; an item's vector is queued for deletion in the item's transaction."""
    if target.table == "items":
        return await delete_old(
            pool, target, cutoff, size, statement=_ITEMS_WITH_VECTORS, extra=(ITEMS,)
        )
    return await delete_old(pool, target, cutoff, size)


async def cleanup(
    settings: Settings,
    pool: asyncpg.Pool,
    days: int | None = None,
    client: AsyncQdrantClient | None = None,
) -> CleanupReport:
    """Delete what is older than `days` (CLEANUP_DAYS), batch by batch, then its vectors.

    `client`: the worker's Qdrant client (in local mode only one process can open the folder);
    None: a client of its own, closed again.
    """
    cutoff = utcnow() - timedelta(days=days or settings.cleanup_days)
    report = CleanupReport(cutoff)
    for target in TARGETS:
        report.deleted[target.table] = await _delete(
            pool, target, cutoff, settings.cleanup_batch_size
        )
    try:
        report.vectors_deleted = await flush_vector_deletions(settings, pool, client)
    except Exception as exc:  # noqa: BLE001 - Qdrant down or busy: the deletions stay queued
        report.vectors_error = f"{type(exc).__name__}: {exc}"
        log.warning("vector deletions kept for later error=%s", report.vectors_error)
    report.vectors_pending = int(await pool.fetchval("SELECT count(*) FROM vector_deletions"))
    log.info("cleanup done cutoff=%s deleted=%s", cutoff.isoformat(), report.deleted)
    return report


async def flush_vector_deletions(
    settings: Settings, pool: asyncpg.Pool, client: AsyncQdrantClient | None = None
) -> int:
    """Delete the queued points from Qdrant, batch by batch; how many were deleted."""
    if client is not None:
        return await flush_deletions(client, settings, pool)
    own = qdrant_client(settings)
    try:
        return await flush_deletions(own, settings, pool)
    finally:
        await own.close()
