"""The collector's timers: the catalog's collection schedules, run on the leader (Faust crontab)."""

from __future__ import annotations

from services.collector.agents import publish_request, resources
from services.collector.app import app
from streams import catalog
from streams.config import Settings
from streams.messages.records import CollectRequest
from streams.requests.schedules import Fire, Schedule, install

__all__ = ["collection_schedules", "get_scheduler"]


def _collect(group: str, job: str) -> Fire:
    async def fire(request_id: str) -> None:
        request = CollectRequest(
            plugin=group, request_id=request_id, requested_by=f"schedule:{job}"
        )
        await publish_request(request, request.lane)

    return fire


def collection_schedules(settings: Settings) -> list[Schedule]:
    """A schedule per group of the catalog with a default schedule whose cron is not empty."""
    return [
        Schedule(job := f"{settings.namespace}{entry.name}", cron, _collect(entry.target, job))
        for entry in catalog.schedules("collector")
        if (cron := entry.cron.cron(settings))
    ]


get_scheduler = install(app, app.settings, collection_schedules(app.settings), resources.pool)
