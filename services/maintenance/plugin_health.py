"""Plugin health: success rate, mean duration and last success per plugin over a window."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from services.maintenance.alerts import AlertSink
from streams.config import Settings
from streams.messages.records import Alert, AlertSeverity, PluginHealthReport
from streams.messages.topics import PLUGIN_HEALTH

__all__ = [
    "PluginHealth",
    "ReportSink",
    "current_health",
    "disabled_plugins",
    "judge",
    "plugin_health",
    "publish_reports",
    "saved_reports",
]

log = logging.getLogger(__name__)
_RUNS = """
SELECT plugin,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'SUCCESS') AS successes,
       avg(duration_ms) AS mean_duration_ms,
       max(started_at) FILTER (WHERE status = 'SUCCESS') AS last_success_at
FROM plugin_runs
WHERE started_at >= now() - make_interval(hours => $1)
GROUP BY plugin ORDER BY plugin
"""
_SAVE = """
INSERT INTO plugin_health (plugin, checked_at, window_hours, runs, successes, success_rate,
                           mean_duration_ms, last_success_at, flagged, disabled, reason)
VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (plugin) DO UPDATE SET
    checked_at = now(), window_hours = EXCLUDED.window_hours, runs = EXCLUDED.runs,
    successes = EXCLUDED.successes, success_rate = EXCLUDED.success_rate,
    mean_duration_ms = EXCLUDED.mean_duration_ms, last_success_at = EXCLUDED.last_success_at,
    flagged = EXCLUDED.flagged, disabled = EXCLUDED.disabled OR plugin_health.disabled,
    reason = EXCLUDED.reason
RETURNING (SELECT flagged FROM plugin_health WHERE plugin = $1) AS was_flagged
"""
_SAVED = """
SELECT plugin, checked_at, window_hours, runs, successes, success_rate, mean_duration_ms,
       last_success_at, flagged, disabled, reason
FROM plugin_health ORDER BY plugin
"""
ReportSink = Callable[[Sequence[PluginHealthReport]], Awaitable[None]]
"""Where the saved verdicts go for the other services (plugin.health)."""


@dataclass(frozen=True)
class PluginHealth:
    """One plugin over the window."""

    plugin: str
    runs: int
    successes: int
    mean_duration_ms: float | None
    last_success_at: datetime | None
    flagged: bool = False
    disabled: bool = False
    reason: str | None = None

    @property
    def success_rate(self) -> float | None:
        """Successes over runs, None without runs."""
        return self.successes / self.runs if self.runs else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = asdict(self)
        data["success_rate"] = self.success_rate
        data["last_success_at"] = self.last_success_at.isoformat() if self.last_success_at else None
        return data


def judge(stats: PluginHealth, settings: Settings) -> PluginHealth:
    """Flag a plugin failing above PLUGIN_FAILURE_THRESHOLD (with enough runs to tell)."""
    rate = stats.success_rate
    if rate is None or stats.runs < settings.plugin_health_min_runs:
        return stats
    failure = 1.0 - rate
    if failure <= settings.plugin_failure_threshold:
        return stats
    reason = (
        f"{failure:.0%} of {stats.runs} runs failed in {settings.plugin_health_window_h}h "
        f"(threshold {settings.plugin_failure_threshold:.0%})"
    )
    return replace(stats, flagged=True, disabled=settings.plugin_auto_disable, reason=reason)


async def plugin_health(
    settings: Settings, pool: asyncpg.Pool, alerts: AlertSink, publish: ReportSink | None = None
) -> list[PluginHealth]:
    """Judge every plugin that ran in the window, save the verdicts, alert newly flagged ones,
    then publish every saved verdict on plugin.health (`publish`, default: to Kafka), the one
    way the collector learns which plugins its groups skip."""
    window = settings.plugin_health_window_h
    rows = await pool.fetch(_RUNS, window)
    judged = [judge(_stats(row), settings) for row in rows]
    for stats in judged:
        was_flagged = await pool.fetchval(
            _SAVE,
            stats.plugin,
            window,
            stats.runs,
            stats.successes,
            stats.success_rate,
            stats.mean_duration_ms,
            stats.last_success_at,
            stats.flagged,
            stats.disabled,
            stats.reason,
        )
        if stats.flagged and not was_flagged:
            log.warning("plugin flagged plugin=%s reason=%s", stats.plugin, stats.reason)
            await alerts(_alert(stats))
    reports = await saved_reports(pool)
    await (publish or partial(publish_reports, settings))(reports)
    return judged


async def saved_reports(pool: asyncpg.Pool) -> list[PluginHealthReport]:
    """Every plugin's saved verdict (a plugin stays disabled until a verdict says otherwise)."""
    return [PluginHealthReport(**dict(row)) for row in await pool.fetch(_SAVED)]


async def publish_reports(settings: Settings, reports: Sequence[PluginHealthReport]) -> None:
    """Put each verdict on plugin.health, keyed by plugin, and wait for every replica."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all")
    await producer.start()
    try:
        topic = PLUGIN_HEALTH.full_name(settings)
        for report in reports:
            await producer.send_and_wait(topic, report.dumps(), key=report.plugin.encode())
    finally:
        await producer.stop()


async def current_health(settings: Settings, pool: asyncpg.Pool) -> list[PluginHealth]:
    """Each plugin's health over the window now, judged but neither saved nor alerted."""
    rows = await pool.fetch(_RUNS, settings.plugin_health_window_h)
    disabled = await disabled_plugins(pool)
    judged = [judge(_stats(row), settings) for row in rows]
    return [replace(stats, disabled=stats.disabled or stats.plugin in disabled) for stats in judged]


def _stats(row: Any) -> PluginHealth:
    mean = row["mean_duration_ms"]
    return PluginHealth(
        plugin=row["plugin"],
        runs=row["runs"],
        successes=row["successes"],
        mean_duration_ms=float(mean) if mean is not None else None,
        last_success_at=row["last_success_at"],
    )


def _alert(stats: PluginHealth) -> Alert:
    action = " and disabled" if stats.disabled else ""
    return Alert(
        source="plugin_health",
        subject=stats.plugin,
        severity=AlertSeverity.WARNING,
        message=f"plugin {stats.plugin} flagged{action}: {stats.reason}",
        state="disabled" if stats.disabled else "flagged",
        previous_state="ok",
        details=stats.as_dict(),
    )


async def disabled_plugins(pool: asyncpg.Pool) -> set[str]:
    """The plugins the plugin health job disabled (for the collector to skip)."""
    rows = await pool.fetch("SELECT plugin FROM plugin_health WHERE disabled")
    return {row["plugin"] for row in rows}
