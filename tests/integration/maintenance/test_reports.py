"""Plugin health and daily analytics computed from real PostgreSQL rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg

from services.maintenance.analytics import daily_analytics, read_analytics
from services.maintenance.plugin_health import disabled_plugins, plugin_health
from streams.config import Settings
from streams.messages.records import PluginHealthReport, utcnow
from streams.messages.topics import PLUGIN_HEALTH, ensure_topics
from tests.integration.maintenance.conftest import Alerts
from tests.support.kafka import read_all


async def _runs(pool: asyncpg.Pool, plugin: str, statuses: list[str], age_h: float = 1) -> None:
    for n, status in enumerate(statuses):
        await pool.execute(
            "INSERT INTO plugin_runs (request_id, plugin, status, started_at, duration_ms) "
            "VALUES ($1, $2, $3, $4, $5)",
            f"{plugin}-{age_h}-{n}",
            plugin,
            status,
            utcnow() - timedelta(hours=age_h),
            100 * (n + 1),
        )


async def test_a_failing_plugin_is_flagged_once_and_disabled(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts
) -> None:
    settings = test_settings.model_copy(update={"plugin_auto_disable": True})
    await _runs(pool, "reddit", ["FAILURE", "FAILURE", "FAILURE", "SUCCESS"])
    await _runs(pool, "hackernews", ["SUCCESS", "SUCCESS", "FAILURE"])
    await _runs(pool, "rss", ["SUCCESS"] * 5, age_h=48)  # outside the 24 h window

    judged = {stats.plugin: stats for stats in await plugin_health(settings, pool, alerts)}
    assert set(judged) == {"reddit", "hackernews"}
    assert judged["reddit"].flagged and judged["reddit"].success_rate == 0.25
    assert judged["reddit"].mean_duration_ms == 250.0
    assert judged["reddit"].last_success_at is not None
    assert not judged["hackernews"].flagged
    assert [(a.subject, a.state) for a in alerts] == [("reddit", "disabled")]
    assert await disabled_plugins(pool) == {"reddit"}

    await plugin_health(settings, pool, alerts)
    assert len(alerts) == 1, "a plugin still flagged is not alerted again"


async def test_every_saved_verdict_is_published_on_plugin_health(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts
) -> None:
    settings = test_settings.model_copy(update={"plugin_auto_disable": True})
    await ensure_topics(settings, (PLUGIN_HEALTH,))
    await _runs(pool, "reddit", ["FAILURE", "FAILURE", "FAILURE", "SUCCESS"])
    await plugin_health(settings, pool, alerts)
    await pool.execute("DELETE FROM plugin_runs WHERE plugin = 'reddit'")  # no run in the window
    await _runs(pool, "hackernews", ["SUCCESS", "SUCCESS"])
    published: list[PluginHealthReport] = []

    async def keep(reports: Sequence[PluginHealthReport]) -> None:
        published.extend(reports)

    await plugin_health(settings, pool, alerts, keep)
    assert [(r.plugin, r.disabled) for r in published] == [("hackernews", False), ("reddit", True)]
    on_topic = [
        PluginHealthReport.parse(value) for value in await read_all(settings, PLUGIN_HEALTH)
    ]
    assert [(r.plugin, r.flagged, r.disabled, r.runs) for r in on_topic] == [
        ("reddit", True, True, 4)
    ]
    assert on_topic[0].reason == published[1].reason and on_topic[0].success_rate == 0.25


async def test_daily_figures_are_stored_and_read_back(pool: asyncpg.Pool) -> None:
    day = date(2026, 3, 14)
    noon = datetime(2026, 3, 14, 12, tzinfo=UTC)
    for n, source in enumerate(["reddit", "reddit", "hackernews"]):
        await pool.execute(
            "INSERT INTO items (source, source_id, title, collected_at, processed_at) "
            "VALUES ($1, $2, 't', $3, $4)",
            source,
            str(n),
            noon,
            noon + timedelta(seconds=10 * (n + 1)),
        )
    await pool.execute("INSERT INTO topics (id, created_at) VALUES ('a', $1), ('b', $1)", noon)
    await pool.execute(
        "INSERT INTO trend_snapshots (topic_id, bucket_start, state) VALUES "
        "('a', $1, 'emerging'), ('a', $2, 'trending'), ('b', $1, 'trending')",
        noon,
        noon + timedelta(hours=1),
    )

    figures = await daily_analytics(pool, day)
    assert figures["items_per_source"] == {"reddit": 2.0, "hackernews": 1.0}
    assert figures["new_topics"] == {"": 2.0}
    assert figures["trends_by_state"] == {"trending": 2.0}
    assert figures["processing_latency_s"]["mean"] == 20.0
    assert figures["processing_latency_s"]["max"] == 30.0
    assert await daily_analytics(pool, day) == figures
    assert await read_analytics(pool, day, day) == {"2026-03-14": figures}
    assert await daily_analytics(pool, date(2026, 3, 15)) == {
        "items_per_source": {},
        "new_topics": {"": 0.0},
        "trends_by_state": {},
        "processing_latency_s": {},
    }
