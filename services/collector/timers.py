"""The collector's timers: the collection schedules, run on the leader (Faust crontab)."""

from __future__ import annotations

from services.collector.agents import publish_request, resources
from services.collector.app import app
from streams.config import Settings
from streams.records import CollectRequest
from streams.schedules import Fire, Schedule, install

__all__ = ["collection_schedules", "get_scheduler"]


def _collect(group: str, job: str) -> Fire:
    async def fire(request_id: str) -> None:
        request = CollectRequest(
            plugin=group, request_id=request_id, requested_by=f"schedule:{job}"
        )
        await publish_request(request, "bulk")

    return fire


def collection_schedules(settings: Settings) -> list[Schedule]:
    """`all` on SCHEDULE_ALL and `high_frequency` on SCHEDULE_HIGH_FREQUENCY (empty: off)."""
    wanted = [
        ("collect_all", "all", settings.schedule_all),
        ("collect_high_frequency", "high_frequency", settings.schedule_high_frequency),
    ]
    return [
        Schedule(job := f"{settings.namespace}{name}", cron, _collect(group, job))
        for name, group, cron in wanted
        if cron
    ]


get_scheduler = install(app, app.settings, collection_schedules(app.settings), resources.pool)
