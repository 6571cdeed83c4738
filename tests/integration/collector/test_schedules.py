"""Schedules on real workers: one run per slot with two workers, a missed slot caught up once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from streams.config import Settings
from streams.messages.records import CollectRequest
from streams.messages.topics import COLLECT_REQUESTS
from tests.support.kafka import read_until
from tests.support.workers import Worker

StartWorkers = Callable[..., list[Worker]]


def _scheduled(values: list[bytes], job: str) -> Counter[str]:
    requests = [CollectRequest.parse(value) for value in values]
    return Counter(r.request_id for r in requests if r.requested_by == f"schedule:{job}")


async def _slot_rows(settings: Settings, job: str) -> list[str]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            "SELECT detail->>'request_id' AS request_id FROM schedule_runs WHERE job = $1 "
            "ORDER BY scheduled_for",
            job,
        )
    finally:
        await conn.close()
    return [row["request_id"] for row in rows]


async def test_with_two_workers_each_slot_runs_once(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(
        update={
            "schedule_all": "",
            "schedule_high_frequency": "* * * * * */2",
            "schedule_check_interval_s": 1.0,
            "plugins_enabled": ("file",),
        }
    )
    start_workers("collector", settings, count=2)
    job = f"{settings.namespace}collect_high_frequency"
    values = await read_until(
        settings, COLLECT_REQUESTS, lambda v: len(_scheduled(v, job)) >= 4, timeout=60
    )
    fired = _scheduled(values, job)
    assert len(fired) >= 4
    assert set(fired.values()) == {1}, fired
    rows = await _slot_rows(settings, job)
    assert set(fired) <= set(rows)
    assert len(rows) == len(set(rows))


def _yearly_slot_an_hour_ago() -> tuple[str, datetime]:
    """A cron due once a year, last an hour ago (UTC): no new slot can come during the test,
    whatever the time of day it runs at (a daily cron fails a test crossing midnight)."""
    slot = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    return f"{slot.minute} {slot.hour} {slot.day} {slot.month} *", slot


async def test_a_missed_slot_is_caught_up_once_after_a_restart(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    cron, slot = _yearly_slot_an_hour_ago()
    settings = test_settings.model_copy(
        update={
            "schedule_all": cron,
            "schedule_high_frequency": "",
            "schedule_check_interval_s": 1.0,
            "schedule_catchup_max_age_s": 86400,
            "plugins_enabled": ("file",),
        }
    )
    job = f"{settings.namespace}collect_all"
    (first,) = start_workers("collector", settings)
    values = await read_until(settings, COLLECT_REQUESTS, lambda v: len(_scheduled(v, job)) >= 1)
    (slot_request,) = _scheduled(values, job)
    assert slot_request == f"{job}.{slot:%Y%m%dT%H%M%S}"
    assert first.stop() == 0

    heartbeat = settings.model_copy(update={"schedule_high_frequency": "* * * * * */2"})
    start_workers("collector", heartbeat)
    beat = f"{settings.namespace}collect_high_frequency"
    values = await read_until(settings, COLLECT_REQUESTS, lambda v: len(_scheduled(v, beat)) >= 3)
    assert _scheduled(values, job) == {slot_request: 1}
    assert await _slot_rows(settings, job) == [slot_request]
