"""The processor's cleanup on PostgreSQL and Qdrant: exactly the old rows and vectors go."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from services.processor.cleanup import cleanup
from services.processor.vectors import ITEMS, VectorStore
from streams.config import Settings
from streams.messages.records import utcnow
from streams.servers.vectors import qdrant_client

OLD, NEW = timedelta(days=40), timedelta(days=2)


async def _item(pool: asyncpg.Pool, name: str, age: timedelta, topic: str, vector: bool) -> int:
    item_id: int = await pool.fetchval(
        "INSERT INTO items (source, source_id, title, collected_at, topic_id, has_vector) "
        "VALUES ('hackernews', $1, $1, $2, $3, $4) RETURNING id",
        name,
        utcnow() - age,
        topic,
        vector,
    )
    return item_id


async def _topic(pool: asyncpg.Pool, topic: str, age: timedelta) -> None:
    at = utcnow() - age
    await pool.execute(
        "INSERT INTO topics (id, label, last_active_at, updated_at) VALUES ($1, $1, $2, $2)",
        topic,
        at,
    )
    await pool.execute(
        "INSERT INTO trends (topic_id, state, updated_at) VALUES ($1, 'dormant', $2)", topic, at
    )
    for bucket_age in (age, NEW):
        await pool.execute(
            "INSERT INTO trend_snapshots (topic_id, bucket_start) VALUES ($1, $2)",
            topic,
            utcnow() - bucket_age,
        )


async def _seed(pool: asyncpg.Pool) -> dict[str, int]:
    await _topic(pool, "old", OLD)
    await _topic(pool, "new", NEW)
    await _topic(pool, "old-but-used", OLD)
    return {
        "old-1": await _item(pool, "old-1", OLD, "old", True),
        "old-2": await _item(pool, "old-2", OLD, "old", True),
        "old-3": await _item(pool, "old-3", OLD, "old", False),
        "new-1": await _item(pool, "new-1", NEW, "new", True),
        "new-2": await _item(pool, "new-2", NEW, "old-but-used", True),
    }


async def _vectors(settings: Settings, ids: list[int]) -> set[int]:
    """Store a vector for each id, then return the ids Qdrant holds (client closed again)."""
    client = qdrant_client(settings)
    try:
        store = VectorStore(client, settings, 4)
        await store.ensure()
        await store.upsert(ITEMS, ids, [[1.0, 0.0, 0.0, float(i)] for i in ids], [{}] * len(ids))
        return await _point_ids(client, store.name(ITEMS))
    finally:
        await client.close()


async def _point_ids(client: object, name: str) -> set[int]:
    points, _ = await client.scroll(name, limit=100)  # type: ignore[attr-defined]
    return {int(point.id) for point in points}


async def _stored_vectors(settings: Settings) -> set[int]:
    client = qdrant_client(settings)
    try:
        return await _point_ids(client, f"{settings.namespace}{ITEMS}")
    finally:
        await client.close()


async def _ids(pool: asyncpg.Pool, sql: str) -> set[object]:
    return {row[0] for row in await pool.fetch(sql)}


async def test_cleanup_removes_exactly_what_is_old(
    test_settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = test_settings.model_copy(update={"cleanup_batch_size": 1})
    items = await _seed(pool)
    with_vectors = [items[name] for name in ("old-1", "old-2", "new-1", "new-2")]
    assert await _vectors(settings, with_vectors) == set(with_vectors)

    report = await cleanup(settings, pool, days=30)

    assert await _ids(pool, "SELECT source_id FROM items") == {"new-1", "new-2"}
    assert await _ids(pool, "SELECT id FROM topics") == {"new", "old-but-used"}
    assert await _ids(pool, "SELECT topic_id FROM trends") == {"new"}
    snapshots = await pool.fetch("SELECT topic_id, bucket_start FROM trend_snapshots")
    assert sorted(row["topic_id"] for row in snapshots) == ["new", "new", "old-but-used"]
    assert all(row["bucket_start"] > utcnow() - timedelta(days=30) for row in snapshots)
    assert await _stored_vectors(settings) == {items["new-1"], items["new-2"]}
    assert report.deleted["items"] == 3
    assert report.deleted["topics"] == 1
    assert report.deleted["trends"] == 2
    assert report.deleted["trend_snapshots"] == 2  # the third went with its topic
    assert (report.vectors_deleted, report.vectors_pending, report.vectors_error) == (2, 0, None)


async def test_vectors_wait_in_the_queue_while_qdrant_is_busy(
    test_settings: Settings, pool: asyncpg.Pool
) -> None:
    items = await _seed(pool)
    await _vectors(test_settings, [items["old-1"], items["old-2"], items["new-1"]])
    holder = qdrant_client(test_settings)  # local mode: one process holds the folder at a time
    try:
        await holder.get_collections()
        busy = await cleanup(test_settings, pool, days=30)
    finally:
        await holder.close()
    assert busy.deleted["items"] == 3
    assert (busy.vectors_deleted, busy.vectors_pending) == (0, 2)
    assert busy.vectors_error is not None

    later = await cleanup(test_settings, pool, days=30)
    assert (later.deleted["items"], later.vectors_deleted, later.vectors_pending) == (0, 2, 0)
    assert await _stored_vectors(test_settings) == {items["new-1"]}
