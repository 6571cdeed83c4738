"""The maintenance worker: jobs on request, schedules and lag sampling on the leader, alerts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.requests.client import request_maintenance
from tests.support.workers import Worker, apoll, free_port, poll

StartWorkers = Callable[..., list[Worker]]


async def test_jobs_on_request_answer_with_their_results(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(
        update={
            "health_workers": ("maintenance", "collector"),
            "collector_web_port": free_port(),
            "health_disk_max_percent": 100.0,
            "health_memory_max_percent": 100.0,
        }
    )
    (worker,) = start_workers("maintenance", settings)
    start_workers("processor", settings)  # the cleanup's processing job (cleanup_data)
    async with await request_maintenance("health", settings=settings) as job:
        health = await job.result(timeout=60)
    assert health["status"] == "degraded" and health["failing"] == ["worker:collector"]
    assert health["checks"]["worker:maintenance"]["ok"] is True
    own = await apoll(lambda: _own_group_lag(settings), 60, interval=0.5)
    assert own and own["status"] == "OK", own
    async with await request_maintenance("cleanup", options={"days": 7}, settings=settings) as job:
        cleaned = await job.result(timeout=60)
    assert cleaned["deleted"]["items"] == 0 and "lag_samples" in cleaned["deleted"]
    assert poll(lambda: "alert source=health subject=system" in worker.output(), 30)
    with pytest.raises(RecordValidationError, match="'vacuum' is not one of analytics"):
        await request_maintenance("vacuum", settings=settings)


async def _own_group_lag(settings: Settings) -> dict[str, Any] | None:
    """The maintenance group's lag from a `lag` job, once it has committed offsets."""
    async with await request_maintenance("lag", settings=settings) as job:
        lag = await job.result(timeout=60)
    groups = {group["group"]: group for group in lag["groups"]}
    own: dict[str, Any] = groups[f"{settings.namespace}trend-stream-maintenance"]
    return own if own["partitions"] else None


async def _count(settings: Settings, sql: str) -> int:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_the_leader_checks_health_on_schedule_and_samples_lag(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(
        update={
            "schedule_health": "* * * * * */2",
            "schedule_check_interval_s": 1.0,
            "lag_sample_interval_s": 1.0,
            "health_workers": (),
        }
    )
    start_workers("maintenance", settings)
    group = f"{settings.namespace}trend-stream-maintenance"
    checked = await apoll(lambda: _count(settings, "SELECT count(*) FROM health_checks"), 60)
    assert checked, "no scheduled health check was recorded"
    sampled = await apoll(
        lambda: _count(settings, f"SELECT count(*) FROM lag_samples WHERE group_id = '{group}'"),
        60,
    )
    assert sampled, "the leader never sampled its own group's lag"
    runs = await _count(settings, "SELECT count(*) FROM schedule_runs WHERE job LIKE '%health'")
    assert runs >= 1
