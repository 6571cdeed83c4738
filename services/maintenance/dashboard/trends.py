"""Top trends for the dashboard, each with an hourly sparkline from its snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

__all__ = ["hourly_series", "top_trends"]

_TOP = """
SELECT t.topic_id, tp.label, tp.keywords, tp.item_count, t.state, t.score, t.z_score, t.rank,
       t.updated_at
FROM trends t JOIN topics tp ON tp.id = t.topic_id
WHERE tp.merged_into IS NULL
ORDER BY t.score DESC, t.topic_id
LIMIT $1
"""
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


async def top_trends(pool: asyncpg.Pool, limit: int, hours: int) -> list[dict[str, Any]]:
    """The `limit` best-scored trends, with `sparkline`: items per hour over `hours` hours."""
    rows = await pool.fetch(_TOP, limit)
    now = datetime.now(UTC)
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    snapshots = await pool.fetch(_SNAPSHOTS, [row["topic_id"] for row in rows], since)
    points: dict[str, list[tuple[datetime, int]]] = {}
    for snap in snapshots:
        points.setdefault(snap["topic_id"], []).append((snap["bucket_start"], snap["item_count"]))
    return [_trend(row, hourly_series(points.get(row["topic_id"], []), now, hours)) for row in rows]


def _trend(row: Any, sparkline: list[int]) -> dict[str, Any]:
    return {
        "topic_id": row["topic_id"],
        "label": row["label"],
        "keywords": list(row["keywords"]),
        "items": row["item_count"],
        "state": row["state"],
        "score": row["score"],
        "z_score": row["z_score"],
        "rank": row["rank"],
        "updated_at": row["updated_at"].isoformat(),
        "sparkline": sparkline,
    }
