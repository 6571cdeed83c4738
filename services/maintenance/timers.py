"""The maintenance schedules on the leader, and the leader's consumer-lag sampling."""

from __future__ import annotations

import logging

from services.maintenance.agents import monitor, publish_alert, resources
from services.maintenance.app import app
from services.maintenance.topics import jobs_topic
from streams.config import Settings
from streams.records import JobRequest, MaintenanceRequest
from streams.schedules import Schedule, install, job_schedules

__all__ = ["get_scheduler", "maintenance_schedules", "sample_lag"]

log = logging.getLogger(__name__)


async def _send(request: JobRequest) -> None:
    await jobs_topic.send(key=request.request_id, value=request.dumps())


def maintenance_schedules(settings: Settings) -> list[Schedule]:
    """health, cleanup, plugin_health, analytics and backup on their SCHEDULE_* (empty: off)."""
    wanted = [
        ("health", settings.schedule_health, {}),
        ("cleanup", settings.schedule_cleanup, {"days": settings.cleanup_days}),
        ("plugin_health", settings.schedule_plugin_health, {}),
        ("analytics", settings.schedule_analytics, {}),
        ("backup", settings.schedule_backup, {}),
    ]
    return job_schedules(settings, MaintenanceRequest, wanted, _send)


get_scheduler = install(app, app.settings, maintenance_schedules(app.settings), resources.pool)


@app.timer(interval=app.settings.lag_sample_interval_s, on_leader=True)
async def sample_lag() -> None:
    """Every LAG_SAMPLE_INTERVAL_S: sample, judge, record and alert the groups' lag."""
    try:
        await monitor.run(await resources.pool(), publish_alert)
    except Exception:
        log.exception("lag sampling failed")
