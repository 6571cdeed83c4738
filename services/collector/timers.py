"""The collector's timers: collection schedules on the leader (Faust crontab) and their catch-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from services.collector.agents import publish_request, resources
from services.collector.app import app
from services.collector.schedules import Schedule, Scheduler, SlotClaims, schedules
from streams.reporting import worker_name

__all__ = ["catch_up_schedules", "get_scheduler"]

_scheduler: Scheduler | None = None


async def get_scheduler() -> Scheduler:
    """The worker's scheduler (used on the leader only)."""
    global _scheduler  # noqa: PLW0603 - one scheduler per worker process
    if _scheduler is None:
        claims = SlotClaims(await resources.pool())
        _scheduler = Scheduler(
            app.settings, claims, lambda request: publish_request(request, "bulk"), worker_name()
        )
    return _scheduler


def _crontab_job(schedule: Schedule) -> Callable[[], Awaitable[None]]:
    async def fire() -> None:
        await (await get_scheduler()).fire(schedule)

    fire.__name__ = fire.__qualname__ = f"schedule_{schedule.job}"
    return fire


for _schedule in schedules(app.settings):
    app.crontab(_schedule.cron, timezone=ZoneInfo(app.settings.schedule_timezone), on_leader=True)(
        _crontab_job(_schedule)
    )


@app.timer(interval=app.settings.schedule_check_interval_s, on_leader=True)
async def catch_up_schedules() -> None:
    """Run a schedule's latest slot if no worker ran it (a leader down at that time)."""
    await (await get_scheduler()).catch_up()
