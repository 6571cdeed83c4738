"""Daily analytics: items per source, new topics, trends by state, processing latency."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from streams.messages.records import utcnow

__all__ = ["FIGURES", "DailyFigures", "daily_analytics", "read_analytics"]

DailyFigures = dict[str, dict[str, float]]
"""metric -> dimension ('' when it has none) -> value."""

FIGURES = {
    "items_per_source": """
        SELECT source AS dimension, count(*)::float8 AS value FROM items
        WHERE collected_at >= $1 AND collected_at < $2 GROUP BY source""",
    "new_topics": """
        SELECT '' AS dimension, count(*)::float8 AS value FROM topics
        WHERE created_at >= $1 AND created_at < $2""",
    "trends_by_state": """
        SELECT state AS dimension, count(*)::float8 AS value FROM (
            SELECT DISTINCT ON (topic_id) topic_id, state FROM trend_snapshots
            WHERE bucket_start >= $1 AND bucket_start < $2 AND state IS NOT NULL
            ORDER BY topic_id, bucket_start DESC) AS latest
        GROUP BY state""",
    "processing_latency_s": """
        SELECT unnest(ARRAY['mean', 'p95', 'max']) AS dimension,
               unnest(ARRAY[avg(s), percentile_cont(0.95) WITHIN GROUP (ORDER BY s), max(s)])
                   AS value
        FROM (SELECT extract(epoch FROM processed_at - collected_at)::float8 AS s FROM items
              WHERE processed_at >= $1 AND processed_at < $2) AS latencies
        HAVING count(*) > 0""",
}
"""Each figure of a day, as (dimension, value) rows, given the day's start and end."""

_SAVE = """
INSERT INTO analytics (day, metric, dimension, value) VALUES ($1, $2, $3, $4)
ON CONFLICT (day, metric, dimension) DO UPDATE SET value = EXCLUDED.value, created_at = now()
"""


async def daily_analytics(pool: asyncpg.Pool, day: date | None = None) -> DailyFigures:
    """Compute a day's figures (default: yesterday, UTC) and store them in `analytics`."""
    day = day or (utcnow().date() - timedelta(days=1))
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    figures: DailyFigures = {}
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM analytics WHERE day = $1 AND metric = ANY($2)", day, list(FIGURES)
        )
        for metric, sql in FIGURES.items():
            rows = await conn.fetch(sql, start, end)
            figures[metric] = {row["dimension"]: row["value"] for row in rows}
            for dimension, value in figures[metric].items():
                await conn.execute(_SAVE, day, metric, dimension, value)
    return figures


async def read_analytics(pool: asyncpg.Pool, since: date, until: date) -> dict[str, DailyFigures]:
    """Stored figures per day (ISO date) from `since` to `until`, for reports and charts."""
    rows = await pool.fetch(
        "SELECT day, metric, dimension, value FROM analytics "
        "WHERE day >= $1 AND day <= $2 ORDER BY day, metric, dimension",
        since,
        until,
    )
    days: dict[str, DailyFigures] = {}
    for row in rows:
        metric = days.setdefault(row["day"].isoformat(), {}).setdefault(row["metric"], {})
        metric[row["dimension"]] = row["value"]
    return days
