"""The processor's timers: the sweep and the trend recomputation, scheduled on the leader."""

from __future__ import annotations

from services.processor.agents import resources
from services.processor.app import app
from services.processor.topics import jobs_topic
from streams.config import Settings
from streams.records import JobRequest, ProcessRequest
from streams.schedules import Schedule, install, job_schedules

__all__ = ["get_scheduler", "processing_schedules"]


async def _send(request: JobRequest) -> None:
    await jobs_topic.send(key=request.request_id, value=request.dumps())


def processing_schedules(settings: Settings) -> list[Schedule]:
    """`sweep` on SCHEDULE_SWEEP and `reprocess_trends` on SCHEDULE_REPROCESS (empty: off)."""
    wanted = [
        ("sweep", settings.schedule_sweep, {"limit": settings.sweep_limit}),
        ("reprocess_trends", settings.schedule_reprocess, {"hours": settings.reprocess_hours}),
    ]
    return job_schedules(settings, ProcessRequest, wanted, _send)


get_scheduler = install(app, app.settings, processing_schedules(app.settings), resources.pool)
