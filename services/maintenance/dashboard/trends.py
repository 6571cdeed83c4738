"""Top trends for the dashboard, each with an hourly sparkline from its snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from streams.config import Settings
from streams.operations import inspect
from streams.operations.inspect import TrendInfo

__all__ = ["hourly_series", "top_trends"]

_SNAPSHOTS = """
SELECT topic_id, bucket_start, item_count FROM trend_snapshots
WHERE topic_id = ANY($1::text[]) AND bucket_start >= $2
ORDER BY bucket_start
"""


def hourly_series(points: Iterable[tuple[datetime, int]], end: datetime, hours: int) -> list[int]:
    """Counts per hour for the `hours` hours up to `end`'s hour, oldest first; missing hours 0."""
    last = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=hours - 1)
    series = [0] * hours
    for at, count in points:
        index = int((at.astimezone(UTC) - first).total_seconds() // 3600)
        if 0 <= index < hours:
            series[index] += count
    return series


async def top_trends(
    settings: Settings, pool: asyncpg.Pool, limit: int, hours: int
) -> list[dict[str, Any]]:
    """The `limit` best-scored trends (the CLI's query, streams.operations.inspect), with
    `sparkline`: items per hour over `hours` hours."""
    trends = await inspect.top_trends(settings, limit, pool=pool)
    now = datetime.now(UTC)
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    snapshots = await pool.fetch(_SNAPSHOTS, [trend.topic_id for trend in trends], since)
    points: dict[str, list[tuple[datetime, int]]] = {}
    for snap in snapshots:
        points.setdefault(snap["topic_id"], []).append((snap["bucket_start"], snap["item_count"]))
    return [_trend(t, hourly_series(points.get(t.topic_id, []), now, hours)) for t in trends]


def _trend(trend: TrendInfo, sparkline: list[int]) -> dict[str, Any]:
    return {
        "topic_id": trend.topic_id,
        "label": trend.label,
        "keywords": list(trend.keywords),
        "items": trend.item_count,
        "state": trend.state,
        "score": trend.score,
        "z_score": trend.z_score,
        "rank": trend.rank,
        "updated_at": trend.updated_at,
        "sparkline": sparkline,
    }
