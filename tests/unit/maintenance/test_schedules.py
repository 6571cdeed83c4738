"""The maintenance schedules follow their settings; an empty cron switches one off."""

from __future__ import annotations

from streams.config import load_settings


def test_each_job_on_its_cron_and_an_empty_one_is_off() -> None:
    from services.maintenance.timers import maintenance_schedules

    settings = load_settings(namespace="n.", schedule_backup="")
    assert [(s.job, s.cron) for s in maintenance_schedules(settings)] == [
        ("n.health", "*/5 * * * *"),
        ("n.cleanup", "0 3 * * *"),
        ("n.plugin_health", "*/30 * * * *"),
        ("n.analytics", "30 0 * * *"),
    ]


async def test_a_slot_sends_a_maintenance_request() -> None:
    from streams.messages.records import JobRequest, MaintenanceRequest
    from streams.requests.schedules import job_schedules

    sent: list[JobRequest] = []

    async def send(request: JobRequest) -> None:
        sent.append(request)

    settings = load_settings(namespace="n.")
    (schedule,) = job_schedules(
        settings, MaintenanceRequest, [("cleanup", "0 3 * * *", {"days": 9})], send
    )
    await schedule.fire("n.cleanup.20260101T030000")
    assert isinstance(sent[0], MaintenanceRequest)
    assert (sent[0].job, sent[0].request_id, sent[0].options) == (
        "cleanup",
        "n.cleanup.20260101T030000",
        {"days": 9},
    )
    assert sent[0].requested_by == "schedule:n.cleanup"
