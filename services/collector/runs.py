"""Every plugin run recorded in PostgreSQL's plugin_runs (plugin, request, timing, outcome)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg

from services.collector.plugin_health import PluginHealthView
from streams.config import Settings
from streams.messages.metrics import record_plugin_run
from streams.messages.records import RequestStatus
from streams.reliability.retry import is_outage, outage_pause

__all__ = ["PluginRunLog"]

log = logging.getLogger(__name__)
_UPSERT = """
INSERT INTO plugin_runs (request_id, plugin, status, items_collected, error, started_at,
                         finished_at, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (request_id, plugin) DO UPDATE SET
    status = EXCLUDED.status, items_collected = EXCLUDED.items_collected,
    error = EXCLUDED.error, started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms
"""


def _time(timings: dict[str, float], key: str) -> datetime | None:
    return datetime.fromtimestamp(timings[key], UTC) if key in timings else None


class PluginRunLog:
    """Writes one row per (request, plugin); a redelivered run overwrites its row."""

    def __init__(self, pool: asyncpg.Pool, health: PluginHealthView, settings: Settings) -> None:
        self.pool = pool
        self.health = health
        """Where the maintenance service's verdicts are read (plugin.health)."""
        self.settings = settings

    async def disabled(self) -> set[str]:
        """Plugins the maintenance plugin-health job disabled (groups skip them), from the
        plugin.health topic; a broker that does not answer is logged and disables nothing."""
        return await self.health.disabled()

    async def record(self, status: RequestStatus) -> None:
        """Record a final status. PostgreSQL away is waited out here, in place, until the row
        is written (the status is published already: the run is neither lost nor run again);
        any other database failure is logged, never raised."""
        record_plugin_run(status.plugin, status.state.value)
        try:
            await self._write(status)
        except (OSError, asyncpg.PostgresError):
            log.warning(
                "plugin run not recorded", exc_info=True, extra={"request_id": status.request_id}
            )

    async def _write(self, status: RequestStatus) -> None:
        """Upsert the run's row; an outage is waited out, any other failure raised."""
        outages = 0
        while True:
            try:
                await self.pool.execute(_UPSERT, *_row(status))
            except Exception as exc:
                if not is_outage(exc):
                    raise
                outages += 1
                await self._wait_out(status, exc, outages)
            else:
                return

    async def _wait_out(self, status: RequestStatus, exc: Exception, outages: int) -> None:
        pause = outage_pause(self.settings, outages)
        log.warning(
            "plugin run not recorded yet: database unavailable, retrying in place attempt=%d "
            "in_s=%.1f error=%s: %s",
            outages,
            pause,
            type(exc).__name__,
            exc,
            extra={"request_id": status.request_id},
        )
        await asyncio.sleep(pause)


def _row(status: RequestStatus) -> tuple[object, ...]:
    """The plugin_runs values of a final status, in _UPSERT's order."""
    timings = status.timings
    started = _time(timings, "started") or _time(timings, "received")
    duration = int((timings["finished"] - timings.get("started", timings["received"])) * 1000)
    items = (status.result or {}).get("items_collected", 0)
    return (
        status.request_id,
        status.plugin,
        status.state.value,
        items,
        status.error,
        started,
        _time(timings, "finished"),
        duration,
    )
