"""The maintenance jobs on request (declared in streams/catalog.py), one method each."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from services.maintenance.alerts import AlertSink
from services.maintenance.analytics import daily_analytics
from services.maintenance.backup import backup
from services.maintenance.cleanup import cleanup
from services.maintenance.health import HealthHistory, check_health
from services.maintenance.lag import LagMonitor, group_dict
from services.maintenance.plugin_health import plugin_health
from streams.messages.records import MaintenanceRequest
from streams.requests.jobs import JobHandler, JobOptionsError, job_handlers
from streams.servers.resources import WorkerResources

__all__ = ["JobOptionError", "Jobs", "handlers"]


class JobOptionError(JobOptionsError):
    """A maintenance job's options are wrong (bad input: never retried)."""


class Jobs:
    """The maintenance jobs, bound to a worker's resources, its lag monitor and its alert sink:
    the method of each job's name runs it (the catalog declares its options and schedule)."""

    def __init__(self, resources: WorkerResources, monitor: LagMonitor, alerts: AlertSink) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.monitor = monitor
        self.alerts = alerts

    async def health(self, request: MaintenanceRequest) -> dict[str, Any]:
        """Every check; a change of status is logged and alerted."""
        history = HealthHistory(self.resources.pool)
        return (await check_health(self.settings, history, self.alerts)).as_dict()

    async def cleanup(self, request: MaintenanceRequest) -> dict[str, Any]:
        """Delete data older than `days` (default CLEANUP_DAYS) and its vectors."""
        days = _whole(request.options, "days", self.settings.cleanup_days)
        return (await cleanup(self.settings, await self.resources.pool(), days)).as_dict()

    async def plugin_health(self, request: MaintenanceRequest) -> dict[str, Any]:
        """Judge each plugin over PLUGIN_HEALTH_WINDOW_H; flag (and alert) failing ones."""
        judged = await plugin_health(self.settings, await self.resources.pool(), self.alerts)
        return {
            "plugins": [stats.as_dict() for stats in judged],
            "flagged": [stats.plugin for stats in judged if stats.flagged],
        }

    async def analytics(self, request: MaintenanceRequest) -> dict[str, Any]:
        """A day's figures (option `day`, ISO date; default yesterday), stored."""
        day = _day(request.options)
        figures = await daily_analytics(await self.resources.pool(), day)
        return {"day": day.isoformat() if day else None, "figures": figures}

    async def backup(self, request: MaintenanceRequest) -> dict[str, Any]:
        """pg_dump, verified and rotated."""
        return (await backup(self.settings, await self.resources.pool())).as_dict()

    async def lag(self, request: MaintenanceRequest) -> dict[str, Any]:
        """Sample every service group's lag now and judge it."""
        groups = await self.monitor.run(await self.resources.pool(), self.alerts)
        return {"groups": [group_dict(lag) for lag in groups]}


def handlers(jobs: Jobs) -> dict[str, JobHandler[MaintenanceRequest]]:
    """Each maintenance job of the catalog, served by the method of its name."""
    return job_handlers(MaintenanceRequest, jobs)


def _whole(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobOptionError(f"option {name!r} must be a whole number >= 1, got {value!r}")
    return value


def _day(options: Mapping[str, Any]) -> date | None:
    given = options.get("day")
    if given is None:
        return None
    try:
        return date.fromisoformat(str(given))
    except ValueError:
        raise JobOptionError(
            f"option 'day' must be an ISO date (2026-01-31), got {given!r}"
        ) from None
