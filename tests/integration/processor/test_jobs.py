"""Processing jobs through the real processor: test_pipeline touches no database; sweep."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg

from services.processor.store import ItemStore
from streams.config import Settings
from streams.requests.client import RequestHandle, request_processing
from streams.servers.db import create_pool
from tests.factories import make_item
from tests.support.workers import Worker, apoll

ROOT = Path(__file__).resolve().parents[3]
StartWorkers = Callable[..., list[Worker]]


async def _count(settings: Settings, where: str = "true") -> int:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM items WHERE {where}"))
    finally:
        await conn.close()


async def test_test_pipeline_returns_topics_and_touches_no_database(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    start_workers("processor", settings)
    options = {"path": "tests/fixtures/corpus/items.jsonl", "sample_size": 120}
    async with await request_processing("test_pipeline", options=options, settings=settings) as job:
        result = await job.result(timeout=120)
    assert result["items"] == 120
    assert result["topics"] and all(topic["size"] >= 3 for topic in result["topics"])
    assert {trend["label"] for trend in result["trends"]} == {t["label"] for t in result["topics"]}
    assert await _count(settings) == 0


async def test_sweep_sends_unprocessed_items_back_through_the_pipeline(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    await _store_unprocessed(test_settings, "Stored but never processed", 4)
    await _queue_vector_deletions(test_settings, [9001, 9002])
    start_workers("processor", test_settings)
    async with await request_processing(
        "sweep", options={"limit": 10}, settings=test_settings
    ) as job:
        result = await job.result(timeout=60)
    assert result == {"items_resent": 4, "limit": 10, "vectors_deleted": 2}
    assert await _count_table(test_settings, "vector_deletions") == 0
    processed = await apoll(lambda: _all_processed(test_settings), 60)
    assert processed, "the swept items were never processed"


async def _queue_vector_deletions(settings: Settings, point_ids: list[int]) -> None:
    """Points a cleanup queued while it could not open Qdrant (the processor held it)."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await conn.executemany(
            "INSERT INTO vector_deletions (collection, point_id) VALUES ('items', $1)",
            [(point_id,) for point_id in point_ids],
        )
    finally:
        await conn.close()


async def _count_table(settings: Settings, table: str) -> int:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def _store_unprocessed(settings: Settings, title: str, count: int) -> None:
    """Raw rows that no pipeline ever saw (as after a crash, or a backfill)."""
    pool = await create_pool(settings)
    try:
        await ItemStore(pool).save([make_item(title=f"{title} {n}") for n in range(count)])
    finally:
        await pool.close()


async def _all_processed(settings: Settings) -> bool:
    return await _count(settings, "processed_at IS NULL") == 0


async def test_the_leader_sweeps_on_schedule(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(
        update={"schedule_sweep": "* * * * * */2", "schedule_check_interval_s": 1.0}
    )
    await _store_unprocessed(settings, "Left behind by a crash", 3)
    assert await _count(settings, "processed_at IS NULL") == 3, "the items were not stored"
    start_workers("processor", settings)
    first = await apoll(lambda: _first_slot_run(settings, f"{settings.namespace}sweep"), 60)
    assert first, "the leader recorded no sweep slot in schedule_runs"
    assert first["status"] == "TRIGGERED", first
    async with RequestHandle(first["request_id"], settings) as handle:
        swept = await handle.result(timeout=60)
    assert swept["items_resent"] == 3, swept
    processed = await apoll(lambda: _all_processed(settings), 60)
    assert processed, "no scheduled sweep sent the stored items through the pipeline"
    assert await _count(settings, "processed_at IS NOT NULL") == 3


async def _first_slot_run(settings: Settings, job: str) -> dict[str, str] | None:
    """The first slot of `job` in schedule_runs, once its run is recorded (status, request id)."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow(
            "SELECT status, detail->>'request_id' AS request_id FROM schedule_runs "
            "WHERE job = $1 ORDER BY scheduled_for LIMIT 1",
            job,
        )
    finally:
        await conn.close()
    if row is None or row["request_id"] is None:
        return None
    return {"status": row["status"], "request_id": row["request_id"]}
