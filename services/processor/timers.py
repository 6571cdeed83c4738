"""The processor's timers: the sweep of unprocessed items, scheduled on the leader."""

from __future__ import annotations

from services.processor.agents import resources
from services.processor.app import app
from services.processor.topics import jobs_topic
from streams.config import Settings
from streams.records import ProcessRequest
from streams.reporting import worker_name
from streams.schedules import Schedule, Scheduler, SlotClaims, install

__all__ = ["get_scheduler", "processing_schedules"]

_scheduler: Scheduler | None = None


def processing_schedules(settings: Settings) -> list[Schedule]:
    """`sweep` on SCHEDULE_SWEEP (empty: off), sending back at most SWEEP_LIMIT items."""
    if not settings.schedule_sweep:
        return []
    job = f"{settings.namespace}sweep"

    async def fire(request_id: str) -> None:
        request = ProcessRequest(
            job="sweep",
            request_id=request_id,
            options={"limit": settings.sweep_limit},
            requested_by=f"schedule:{job}",
        )
        await jobs_topic.send(key=request_id, value=request.dumps())

    return [Schedule(job, settings.schedule_sweep, fire)]


async def get_scheduler() -> Scheduler:
    """The worker's scheduler (used on the leader only)."""
    global _scheduler  # noqa: PLW0603 - one scheduler per worker process
    if _scheduler is None:
        claims = SlotClaims(await resources.pool())
        _scheduler = Scheduler(
            app.settings, claims, processing_schedules(app.settings), worker_name()
        )
    return _scheduler


install(app, app.settings, processing_schedules(app.settings), get_scheduler)
