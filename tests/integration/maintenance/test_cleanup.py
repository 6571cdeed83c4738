"""The maintenance cleanup: its own old rows, and the processor's through the processor's job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg

from services.maintenance.cleanup import PROCESSOR_JOB, cleanup
from streams.config import Settings
from streams.messages.records import RequestState, utcnow
from streams.requests.client import RequestHandle
from tests.support.workers import Worker

StartWorkers = Callable[..., list[Worker]]
OLD, NEW = timedelta(days=40), timedelta(days=2)


async def _seed(pool: asyncpg.Pool) -> None:
    for name, age in (("old", OLD), ("new", NEW)):
        at = utcnow() - age
        await pool.execute(
            "INSERT INTO items (source, source_id, title, collected_at) VALUES ('rss', $1, $1, $2)",
            name,
            at,
        )
        await pool.execute("INSERT INTO health_checks (checked_at, status) VALUES ($1, 'ok')", at)
        await pool.execute(
            "INSERT INTO plugin_runs (request_id, plugin, status, started_at) "
            "VALUES ($1, 'rss', 'SUCCESS', $2)",
            name,
            at,
        )


async def _column(pool: asyncpg.Pool, sql: str) -> list[object]:
    return [row[0] for row in await pool.fetch(sql)]


async def test_the_processor_deletes_its_data_on_the_maintenance_cleanups_request(
    test_settings: Settings, pool: asyncpg.Pool, start_workers: StartWorkers
) -> None:
    await _seed(pool)
    start_workers("processor", test_settings)

    report = await cleanup(test_settings, pool, days=30)

    assert await _column(pool, "SELECT source_id FROM items") == ["new"]
    assert len(await _column(pool, "SELECT id FROM health_checks")) == 1
    assert await _column(pool, "SELECT request_id FROM plugin_runs") == ["new"]
    assert report.deleted["items"] == 1 and report.deleted["topics"] == 0  # the processor's
    assert report.deleted["health_checks"] == 1 and report.deleted["plugin_runs"] == 1  # its own
    assert (report.vectors_deleted, report.vectors_pending, report.vectors_error) == (0, 0, None)
    assert report.processor_request_id is not None and report.processor_state == "SUCCESS"
    async with RequestHandle(report.processor_request_id, test_settings) as handle:
        status = await handle.status()
    assert status is not None and status.state is RequestState.SUCCESS
    assert status.plugin == PROCESSOR_JOB
    assert status.result is not None and status.result["deleted"]["items"] == 1


async def test_without_a_processor_its_part_waits_queued_for_it(
    test_settings: Settings, pool: asyncpg.Pool, start_workers: StartWorkers
) -> None:
    await _seed(pool)

    report = await cleanup(test_settings, pool, days=30)

    assert report.processor_state == "PENDING" and "items" not in report.deleted
    assert report.deleted["health_checks"] == 1 and report.deleted["plugin_runs"] == 1
    assert await _column(pool, "SELECT source_id FROM items ORDER BY source_id") == ["new", "old"]
    assert report.processor_request_id is not None
    start_workers("processor", test_settings)
    async with RequestHandle(report.processor_request_id, test_settings) as handle:
        done = await handle.result(timeout=60)
    assert done["deleted"]["items"] == 1
    assert await _column(pool, "SELECT source_id FROM items") == ["new"]
