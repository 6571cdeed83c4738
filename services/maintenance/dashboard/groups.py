"""Consumer groups for the dashboard: the latest lag per partition, and lag over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.maintenance.lag import LagMonitor, group_dict
from streams.operations.lag import GroupLag, LagStatus, PartitionLag, evaluate_group

__all__ = ["latest_groups", "recorded_groups"]

_LATEST = """
SELECT s.group_id, s.sampled_at, s.topic, s.partition, s.committed, s.end_offset, s.lag, s.status,
       s.reason
FROM lag_samples s
JOIN (SELECT group_id, max(sampled_at) AS at FROM lag_samples
      WHERE group_id = ANY($1::text[]) GROUP BY group_id) m
  ON s.group_id = m.group_id AND s.sampled_at = m.at
ORDER BY s.group_id, s.topic, s.partition
"""


async def latest_groups(monitor: LagMonitor, pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Each service group's latest lag: the leader's own window, else the last recorded sample.

    Every group carries `sampled_at` (epoch seconds) and `source` (`live` or `recorded`).
    """
    if monitor.latest:
        lags = [monitor.latest[group] for group in monitor.groups if group in monitor.latest]
        return [_described(lag, "live") for lag in lags]
    recorded = await recorded_groups(pool, monitor.groups)
    return [
        _described(recorded.get(group, _unsampled(group)), "recorded") for group in monitor.groups
    ]


async def recorded_groups(pool: asyncpg.Pool, groups: list[str]) -> dict[str, GroupLag]:
    """The last sample of each group in lag_samples, judged as it was then."""
    partitions: dict[str, list[PartitionLag]] = {}
    sampled: dict[str, datetime] = {}
    for row in await pool.fetch(_LATEST, groups):
        sampled[row["group_id"]] = row["sampled_at"]
        partitions.setdefault(row["group_id"], []).append(
            PartitionLag(
                row["topic"],
                row["partition"],
                row["committed"],
                row["end_offset"],
                row["lag"],
                LagStatus(row["status"]),
                row["reason"],
            )
        )
    return {
        group: evaluate_group(group, found, sampled_at=sampled[group].timestamp())
        for group, found in partitions.items()
    }


def _unsampled(group: str) -> GroupLag:
    return evaluate_group(group, [])


def _described(lag: GroupLag, source: str) -> dict[str, Any]:
    return {**group_dict(lag), "sampled_at": lag.sampled_at or None, "source": source}
