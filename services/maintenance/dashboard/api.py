"""The dashboard's JSON API: what each `/api/...` route reads or does, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.maintenance.dashboard import inputs
from services.maintenance.dashboard.groups import latest_groups
from services.maintenance.dashboard.inputs import DashboardInputError
from services.maintenance.dashboard.trends import top_trends
from services.maintenance.lag import LagMonitor, lag_history
from services.maintenance.plugin_health import current_health
from streams import catalog
from streams.catalog import RebuildOptions
from streams.config import Settings
from streams.exceptions import RecordValidationError, TrendStreamError
from streams.messages.records import (
    CollectRequest,
    ProcessRequest,
    RequestStatus,
    request_id_problem,
)
from streams.operations import inspect
from streams.reliability.deadletter import DeadLetters
from streams.requests.client import revoke, submit
from streams.requests.jobs import check_job_options
from streams.servers.resources import WorkerResources

__all__ = ["Call", "DashboardApi", "NotFoundError"]

DEAD_LETTERS_SHOWN = 200
MAX_OFFSET = 1_000_000
"""The furthest a page of requests may start."""


_LARGEST = 1_000_000
"""The largest whole number a query parameter may give (the job's options bound it further)."""
_PROCESSING = catalog.option_schemas("processor")


class NotFoundError(TrendStreamError):
    """What a route names does not exist (answered with 404)."""


@dataclass(frozen=True)
class Call:
    """One API call: the path's parameters, the query string and the JSON body."""

    path: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class DashboardApi:
    """The API's operations, bound to the maintenance worker's resources and lag monitor."""

    resources: WorkerResources
    monitor: LagMonitor

    @property
    def settings(self) -> Settings:
        """The worker's settings."""
        return self.resources.settings

    async def workers(self, call: Call) -> dict[str, Any]:
        """Each service's worker (its /health: status, assignment) and figures (its /metrics)."""
        found = await inspect.workers(self.settings)
        figures = {s.service: s for s in await inspect.stats(self.settings)}
        rows = [{**w.as_dict(), "stats": figures[w.service].figures} for w in found]
        return {"workers": rows}

    async def schedules(self, call: Call) -> dict[str, Any]:
        """The leader schedules of every service: cron, next run, last run."""
        found = await inspect.scheduled(self.settings, pool=await self._pool())
        return {"schedules": [schedule.as_dict() for schedule in found]}

    async def requests(self, call: Call) -> dict[str, Any]:
        """A page of the latest requests, newest first, by `state` (comma-separated) and
        `plugin`: `limit` of them after the first `offset`, with how many match in all and the
        offsets of the next and previous pages (None: there is none)."""
        query = call.query
        limit = inputs.whole(query, "limit", 50, 1, 500)
        offset = inputs.whole(query, "offset", 0, 0, MAX_OFFSET)
        state, plugin = inputs.states(query), inputs.name(query, "plugin")
        found, total = await inspect.request_page(
            self.settings, limit, offset, state, plugin, redis=self.resources.redis
        )
        return {
            "requests": [_row(info.as_dict()) for info in found],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
            "previous_offset": max(offset - limit, 0) if offset > 0 else None,
        }

    async def request(self, call: Call) -> dict[str, Any]:
        """One request: its latest status, result, traceback and timeline."""
        request_id = call.path["request_id"]
        info = inspect.request_info(await self.status(request_id)).as_dict()
        timeline = await inspect.timeline(self.settings, request_id, self.resources.redis)
        return {**info, "timeline": timeline}

    async def status(self, request_id: str) -> RequestStatus:
        """A request's latest status; DashboardInputError for an invalid id, NotFoundError
        when no request has it."""
        status = await self.resources.states.get(_checked_id(request_id))
        if status is None:
            raise NotFoundError(f"no request {request_id!r} is known")
        return status

    async def cancel(self, call: Call) -> dict[str, Any]:
        """Revoke a request: recorded in Redis at once and announced on `control`."""
        request_id = _checked_id(call.path["request_id"])
        await revoke(self.settings, self.resources.states, request_id, issued_by="dashboard")
        return {"request_id": request_id, "command": "revoke"}

    async def collect(self, call: Call) -> dict[str, Any]:
        """Trigger a collection from a CollectRequest body; PENDING until a collector answers.

        A plugin or group unknown to this installation is refused here (the plugins' own
        options are checked by the collector, which dead-letters a request it cannot run).
        """
        request = _collect_request(call.body)
        known = inspect.registered(self.settings)
        names = {plugin.name for plugin in known.plugins} | set(known.groups)
        if request.plugin not in names:
            raise DashboardInputError(
                f"plugin: unknown plugin {request.plugin!r}; known: {', '.join(sorted(names))}"
            )
        await submit(self.settings, self.resources.states, request)
        return {"request_id": request.request_id, "state": "PENDING", "lane": request.lane}

    async def rebuild_topics(self, call: Call) -> dict[str, Any]:
        """Request the processor's rebuild_topics job (a dry run: nothing written), its options
        checked here as the processor checks them; PENDING until a processor answers (its
        result: GET /api/requests/{request_id})."""
        given = {
            name: inputs.whole(call.query, name, default, 1, _LARGEST)
            for name, default in RebuildOptions().model_dump().items()
        }
        request = ProcessRequest(job="rebuild_topics", options=given, requested_by="dashboard")
        try:
            check_job_options(request, _PROCESSING, self.settings)
        except RecordValidationError as exc:
            raise DashboardInputError(str(exc)) from None
        await submit(self.settings, self.resources.states, request)
        return {"request_id": request.request_id, "state": "PENDING", "job": request.job}

    async def groups(self, call: Call) -> dict[str, Any]:
        """Each service group's lag per partition, as last sampled."""
        return {"groups": await latest_groups(self.monitor, await self._pool())}

    async def group_history(self, call: Call) -> dict[str, Any]:
        """A group's total and max lag per sample over the last `minutes`."""
        group = call.path["group"]
        if group not in self.monitor.groups:
            raise NotFoundError(
                f"{group!r} is not a service group: {', '.join(self.monitor.groups)}"
            )
        minutes = inputs.whole(call.query, "minutes", 60, 1, 7 * 24 * 60)
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        samples = await lag_history(await self._pool(), group, since)
        return {"group": group, "minutes": minutes, "samples": samples}

    async def deadletters(self, call: Call) -> dict[str, Any]:
        """Active dead letters: counts per topic and error class, and the latest ones."""
        where = inputs.deadletter_query(call.query)
        letters = await DeadLetters(self.settings).entries(where)
        counts: dict[str, dict[str, int]] = {}
        for letter in letters:
            by_error = counts.setdefault(letter.topic, {})
            by_error[letter.error_class] = by_error.get(letter.error_class, 0) + 1
        shown = [_letter(letter.describe()) for letter in letters[-DEAD_LETTERS_SHOWN:]]
        return {"total": len(letters), "summary": counts, "entries": shown[::-1]}

    async def redrive(self, call: Call) -> dict[str, Any]:
        """Send the matching dead letters back to their topics."""
        ids = await DeadLetters(self.settings).redrive(inputs.deadletter_filter(call.body))
        return {"redriven": ids, "count": len(ids)}

    async def purge(self, call: Call) -> dict[str, Any]:
        """Drop the matching dead letters."""
        ids = await DeadLetters(self.settings).purge(inputs.deadletter_filter(call.body))
        return {"purged": ids, "count": len(ids)}

    async def plugins(self, call: Call) -> dict[str, Any]:
        """Registered plugins and request kinds, with each plugin's health over the window."""
        health = {
            h.plugin: h.as_dict() for h in await current_health(self.settings, await self._pool())
        }
        known = inspect.registered(self.settings).as_dict()
        names = sorted({p["name"] for p in known["plugins"]} | set(health))
        origin = {p["name"]: p for p in known["plugins"]}
        rows = [_plugin(name, origin.get(name), health.get(name)) for name in names]
        return {**known, "plugins": rows, "window_hours": self.settings.plugin_health_window_h}

    async def top_trends(self, call: Call) -> dict[str, Any]:
        """The best-scored trends, each with items per hour over the last `hours` hours."""
        limit = inputs.whole(call.query, "limit", 10, 1, 100)
        hours = inputs.whole(call.query, "hours", 24, 2, 24 * 14)
        trends = await top_trends(self.settings, await self._pool(), limit, hours)
        return {"hours": hours, "trends": trends}

    async def _pool(self) -> asyncpg.Pool:
        return await self.resources.pool()


def _checked_id(request_id: str) -> str:
    problem = request_id_problem(request_id)
    if problem is not None:
        raise DashboardInputError(f"invalid request id: {problem}")
    return request_id


def _row(info: dict[str, Any]) -> dict[str, Any]:
    """A request for a list: no result body nor traceback (the detail has them)."""
    return {key: value for key, value in info.items() if key not in ("result", "traceback")}


def _letter(described: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "topic", "key", "error_class", "error_message", "attempts", "dead_at", "redrives")
    return {key: described[key] for key in keep}


def _plugin(
    name: str, registered: dict[str, Any] | None, health: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": name,
        "origin": registered["origin"] if registered else "unknown",
        "enabled": bool(registered and registered["enabled"]),
        "health": health,
    }


def _collect_request(body: Mapping[str, Any]) -> CollectRequest:
    try:
        request = CollectRequest.parse(dict(body), {"requested_by": "dashboard"})
    except TrendStreamError as exc:
        raise DashboardInputError(str(exc)) from None
    return request
