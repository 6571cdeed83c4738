"""Schedule slots: which slot is due, which schedules are on."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.collector.timers import collection_schedules
from streams.config import load_settings
from streams.requests.schedules import latest_slot


def test_latest_slot_is_at_or_before_now() -> None:
    utc = ZoneInfo("UTC")
    now = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)
    assert latest_slot("*/15 * * * *", utc, now) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert latest_slot("0 * * * *", utc, now) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    on_time = datetime(2026, 11, 25, 10, 15, 0, 200000, tzinfo=UTC)
    assert latest_slot("*/15 * * * *", utc, on_time) == datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
    early = datetime(2026, 11, 25, 10, 14, 59, 500000, tzinfo=UTC)
    assert latest_slot("*/15 * * * *", utc, early) == datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def test_slots_follow_the_schedule_timezone() -> None:
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)  # 12:30 in Paris
    slot = latest_slot("0 12 * * *", paris, now)
    assert slot == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_an_empty_cron_switches_a_schedule_off() -> None:
    settings = load_settings(schedule_high_frequency="", namespace="x.")
    assert [(s.job, s.cron) for s in collection_schedules(settings)] == [
        ("x.collect_all", "0 * * * *")
    ]


def test_the_processor_sweeps_on_its_own_schedule() -> None:
    from services.processor.timers import processing_schedules

    settings = load_settings(schedule_sweep="*/30 * * * *", namespace="x.")
    assert [(s.job, s.cron) for s in processing_schedules(settings)] == [
        ("x.sweep", "*/30 * * * *"),
    ]
    assert processing_schedules(load_settings(schedule_sweep="")) == []
