"""The processor's timers: its jobs' schedules of the catalog, run on the leader."""

from __future__ import annotations

from services.processor.agents import resources
from services.processor.app import app
from services.processor.topics import jobs_topic
from streams.config import Settings
from streams.messages.records import JobRequest, ProcessRequest
from streams.requests.jobs import scheduled_jobs
from streams.requests.schedules import Schedule, install

__all__ = ["get_scheduler", "processing_schedules"]


async def _send(request: JobRequest) -> None:
    await jobs_topic.send(key=request.request_id, value=request.dumps())


def processing_schedules(settings: Settings) -> list[Schedule]:
    """The processing jobs' default schedules of the catalog (an empty cron: off)."""
    return scheduled_jobs(settings, ProcessRequest, _send)


get_scheduler = install(app, app.settings, processing_schedules(app.settings), resources.pool)
