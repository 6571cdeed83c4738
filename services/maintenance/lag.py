"""Consumer lag of the services' groups: sampled from Kafka, judged, recorded, alerted."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from services.maintenance.alerts import AlertSink
from streams.config import Settings
from streams.messages.records import Alert, AlertSeverity
from streams.operations.lag import GroupLag, LagStatus, OffsetSample, PartitionLag, PartitionWindow
from streams.operations.lag import evaluate_group as summarise
from streams.operations.offsets import (
    GroupOffsets,
    KafkaOffsets,
    PartitionReading,
    service_groups,
)

__all__ = [
    "GroupOffsets",
    "KafkaOffsets",
    "LagMonitor",
    "group_dict",
    "lag_alert",
    "lag_history",
    "record_samples",
    "service_groups",
]

log = logging.getLogger(__name__)
TROUBLE = frozenset(
    {
        LagStatus.UNKNOWN,
        LagStatus.WARN,
        LagStatus.ERR,
        LagStatus.STOP,
        LagStatus.STALL,
        LagStatus.REWIND,
    }
)
CRITICAL = frozenset({LagStatus.ERR, LagStatus.STOP, LagStatus.STALL, LagStatus.REWIND})


class LagMonitor:
    """A window of samples per partition (in memory, on the leader) and each group's status."""

    def __init__(self, settings: Settings, offsets: KafkaOffsets | None = None) -> None:
        self.settings = settings
        self.offsets = offsets or KafkaOffsets(settings)
        self.groups = service_groups(settings)
        self.windows: dict[tuple[str, str, int], PartitionWindow] = {}
        self.latest: dict[str, GroupLag] = {}
        self._lock = asyncio.Lock()

    async def sample(self, now: float | None = None) -> list[GroupLag]:
        """Read every group's offsets once and judge it; remembered in `latest`."""
        async with self._lock:
            now = time.time() if now is None else now
            judged = [self.judge(await self.offsets.read(group), now) for group in self.groups]
            self.latest = {lag.group: lag for lag in judged}
            return judged

    def judge(self, offsets: GroupOffsets, now: float) -> GroupLag:
        """Add the sample to each partition's window (while the group consumes) and judge it;
        a partition whose offsets could not be read is UNKNOWN and adds no sample."""
        partitions = [self._judge(offsets, reading, now) for reading in offsets.readings()]
        return summarise(
            offsets.group,
            partitions,
            state=offsets.state,
            members=offsets.members,
            sampled_at=now,
        )

    def _judge(self, offsets: GroupOffsets, reading: PartitionReading, now: float) -> PartitionLag:
        status = LagStatus.UNKNOWN
        if reading.lag is not None and reading.committed is not None:
            window = self._window(offsets.group, TopicPartition(reading.topic, reading.partition))
            last = window.samples[-1] if window.samples else None
            if offsets.members or last is None or last.offset != reading.committed:
                window.add(OffsetSample(reading.committed, reading.lag, now))
            status = window.status(reading.lag, now)
        return PartitionLag(*reading.read, status, reading.reason)

    def _window(self, group: str, tp: TopicPartition) -> PartitionWindow:
        key = (group, tp.topic, tp.partition)
        if key not in self.windows:
            self.windows[key] = PartitionWindow(self.settings.lag_window)
        return self.windows[key]

    async def run(self, pool: asyncpg.Pool, alerts: AlertSink) -> list[GroupLag]:
        """One round: sample, record the samples, alert each group that needs it."""
        previous = dict(self.latest)
        groups = await self.sample()
        await record_samples(pool, groups)
        for lag in groups:
            alert = lag_alert(previous.get(lag.group), lag, self.settings.lag_alert_threshold)
            if alert is not None:
                log.warning("lag alert group=%s status=%s", lag.group, lag.status.value)
                await alerts(alert)
        return groups

    async def close(self) -> None:
        """Close the Kafka clients."""
        await self.offsets.close()


def lag_alert(previous: GroupLag | None, current: GroupLag, threshold: int) -> Alert | None:
    """An alert when a group leaves OK, comes back to OK, or its total lag passes `threshold`."""
    was = previous.status if previous else LagStatus.OK
    if current.status in TROUBLE and was not in TROUBLE:
        severity = AlertSeverity.CRITICAL if current.status in CRITICAL else AlertSeverity.WARNING
        return _alert(current, was, severity, f"consumer group is {current.status.value}")
    if current.status is LagStatus.OK and was in TROUBLE:
        return _alert(current, was, AlertSeverity.INFO, "consumer group is back to OK")
    before = previous.total_lag if previous and previous.total_lag is not None else 0
    if current.total_lag is not None and before <= threshold < current.total_lag:
        message = f"total lag {current.total_lag} passed {threshold}"
        return _alert(current, was, AlertSeverity.WARNING, message)
    return None


def _alert(lag: GroupLag, was: LagStatus, severity: AlertSeverity, message: str) -> Alert:
    return Alert(
        source="lag",
        subject=lag.group,
        severity=severity,
        message=f"{lag.group}: {message} ({_figures(lag)})",
        state=lag.status.value,
        previous_state=was.value,
        details=group_dict(lag),
    )


def _figures(lag: GroupLag) -> str:
    if lag.unknown:
        reasons = sorted({p.reason or "" for p in lag.partitions if p.lag is None})
        return f"lag of {lag.unknown} partition(s) unknown: {'; '.join(reasons)}"
    return f"total lag {lag.total_lag}, max {lag.max_lag} on {lag.max_partition or '-'}"


def group_dict(lag: GroupLag) -> dict[str, Any]:
    """A group's lag as JSON-ready data (a job's result, a dashboard's view)."""
    return {
        "group": lag.group,
        "status": lag.status.value,
        "state": lag.state,
        "members": lag.members,
        "total_lag": lag.total_lag,
        "max_lag": lag.max_lag,
        "max_partition": lag.max_partition,
        "unknown": lag.unknown,
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "committed": p.committed,
                "end_offset": p.end_offset,
                "lag": p.lag,
                "status": p.status.value,
                "reason": p.reason,
            }
            for p in lag.partitions
        ],
    }


async def record_samples(pool: asyncpg.Pool, groups: list[GroupLag]) -> int:
    """One lag_samples row per partition and sample (an UNKNOWN one with NULL offsets it could
    not read, a NULL lag and the reason); how many were written."""
    at = {lag.group: datetime.fromtimestamp(lag.sampled_at, UTC) for lag in groups}
    rows = [(at[lag.group], lag.group, *_row(p)) for lag in groups for p in lag.partitions]
    await pool.executemany(
        "INSERT INTO lag_samples (sampled_at, group_id, topic, partition, committed, end_offset, "
        "lag, status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT DO NOTHING",
        rows,
    )
    return len(rows)


def _row(p: PartitionLag) -> tuple[object, ...]:
    return (p.topic, p.partition, p.committed, p.end_offset, p.lag, p.status, p.reason)


async def lag_history(pool: asyncpg.Pool, group: str, since: datetime) -> list[dict[str, Any]]:
    """A group's total and max lag per sample time since `since`, oldest first (for charts);
    both None for a sample with a partition of unknown lag."""
    rows = await pool.fetch(
        "SELECT sampled_at, CASE WHEN count(lag) = count(*) THEN sum(lag) END AS total_lag, "
        "CASE WHEN count(lag) = count(*) THEN max(lag) END AS max_lag, "
        "array_agg(DISTINCT status) AS statuses FROM lag_samples "
        "WHERE group_id = $1 AND sampled_at >= $2 GROUP BY sampled_at ORDER BY sampled_at",
        group,
        since,
    )
    return [
        {
            "sampled_at": row["sampled_at"].isoformat(),
            "total_lag": None if row["total_lag"] is None else int(row["total_lag"]),
            "max_lag": None if row["max_lag"] is None else int(row["max_lag"]),
            "statuses": sorted(row["statuses"]),
        }
        for row in rows
    ]
