"""The processor's timers: the sweep and the trend recomputation, scheduled on the leader."""

from __future__ import annotations

from typing import Any

from services.processor.agents import resources
from services.processor.app import app
from services.processor.topics import jobs_topic
from streams.config import Settings
from streams.records import ProcessRequest
from streams.schedules import Fire, Schedule, install

__all__ = ["get_scheduler", "processing_schedules"]


def _job(job: str, name: str, options: dict[str, Any]) -> Fire:
    async def fire(request_id: str) -> None:
        request = ProcessRequest(
            job=job, request_id=request_id, options=options, requested_by=f"schedule:{name}"
        )
        await jobs_topic.send(key=request_id, value=request.dumps())

    return fire


def processing_schedules(settings: Settings) -> list[Schedule]:
    """`sweep` on SCHEDULE_SWEEP and `reprocess_trends` on SCHEDULE_REPROCESS (empty: off)."""
    wanted = [
        ("sweep", settings.schedule_sweep, {"limit": settings.sweep_limit}),
        ("reprocess_trends", settings.schedule_reprocess, {"hours": settings.reprocess_hours}),
    ]
    return [
        Schedule(name := f"{settings.namespace}{job}", cron, _job(job, name, options))
        for job, cron, options in wanted
        if cron
    ]


get_scheduler = install(app, app.settings, processing_schedules(app.settings), resources.pool)
