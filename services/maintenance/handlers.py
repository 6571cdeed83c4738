"""The maintenance jobs on request (declared in streams/catalog.py), one method each."""

from __future__ import annotations

from typing import Any

from services.maintenance.alerts import AlertSink
from services.maintenance.analytics import daily_analytics
from services.maintenance.backup import backup
from services.maintenance.cleanup import cleanup
from services.maintenance.health import HealthHistory, check_health
from services.maintenance.lag import LagMonitor, group_dict
from services.maintenance.plugin_health import plugin_health
from streams.catalog import AnalyticsOptions, CleanupOptions, NoOptions
from streams.messages.records import MaintenanceRequest
from streams.requests.jobs import JobHandler, job_handlers
from streams.servers.resources import WorkerResources

__all__ = ["Jobs", "handlers"]


class Jobs:
    """The maintenance jobs, bound to a worker's resources, its lag monitor and its alert sink:
    the method of each job's name runs it (the catalog declares its options and schedule)."""

    def __init__(self, resources: WorkerResources, monitor: LagMonitor, alerts: AlertSink) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.monitor = monitor
        self.alerts = alerts

    async def health(self, request: MaintenanceRequest, options: NoOptions) -> dict[str, Any]:
        """Every check; a change of status is logged and alerted."""
        history = HealthHistory(self.resources.pool)
        return (await check_health(self.settings, history, self.alerts)).as_dict()

    async def cleanup(self, request: MaintenanceRequest, options: CleanupOptions) -> dict[str, Any]:
        """Delete data older than `days` (default CLEANUP_DAYS) and its vectors."""
        pool = await self.resources.pool()
        return (await cleanup(self.settings, pool, options.days)).as_dict()

    async def plugin_health(
        self, request: MaintenanceRequest, options: NoOptions
    ) -> dict[str, Any]:
        """Judge each plugin over PLUGIN_HEALTH_WINDOW_H; flag (and alert) failing ones."""
        judged = await plugin_health(self.settings, await self.resources.pool(), self.alerts)
        return {
            "plugins": [stats.as_dict() for stats in judged],
            "flagged": [stats.plugin for stats in judged if stats.flagged],
        }

    async def analytics(
        self, request: MaintenanceRequest, options: AnalyticsOptions
    ) -> dict[str, Any]:
        """A day's figures (option `day`, ISO date; default yesterday), stored."""
        day = options.day
        figures = await daily_analytics(await self.resources.pool(), day)
        return {"day": day.isoformat() if day else None, "figures": figures}

    async def backup(self, request: MaintenanceRequest, options: NoOptions) -> dict[str, Any]:
        """pg_dump, verified and rotated."""
        return (await backup(self.settings, await self.resources.pool())).as_dict()

    async def lag(self, request: MaintenanceRequest, options: NoOptions) -> dict[str, Any]:
        """Sample every service group's lag now and judge it."""
        groups = await self.monitor.run(await self.resources.pool(), self.alerts)
        return {"groups": [group_dict(lag) for lag in groups]}


def handlers(jobs: Jobs) -> dict[str, JobHandler[MaintenanceRequest]]:
    """Each maintenance job of the catalog, served by the method of its name."""
    return job_handlers(MaintenanceRequest, jobs)
