"""The maintenance schedules on the leader, and the leader's consumer-lag sampling."""

from __future__ import annotations

import logging

from services.maintenance.agents import monitor, publish_alert, resources
from services.maintenance.app import app
from services.maintenance.topics import jobs_topic
from streams.config import Settings
from streams.messages.records import JobRequest, MaintenanceRequest
from streams.requests.jobs import scheduled_jobs
from streams.requests.schedules import Schedule, install

__all__ = ["get_scheduler", "maintenance_schedules", "sample_lag"]

log = logging.getLogger(__name__)


async def _send(request: JobRequest) -> None:
    await jobs_topic.send(key=request.request_id, value=request.dumps())


def maintenance_schedules(settings: Settings) -> list[Schedule]:
    """The maintenance jobs' default schedules of the catalog (an empty cron: off)."""
    return scheduled_jobs(settings, MaintenanceRequest, _send)


get_scheduler = install(app, app.settings, maintenance_schedules(app.settings), resources.pool)


@app.timer(interval=app.settings.lag_sample_interval_s, on_leader=True)
async def sample_lag() -> None:
    """Every LAG_SAMPLE_INTERVAL_S: sample, judge, record and alert the groups' lag."""
    try:
        await monitor.run(await resources.pool(), publish_alert)
    except Exception:
        log.exception("lag sampling failed")
