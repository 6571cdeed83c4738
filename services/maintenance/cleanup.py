"""Cleanup of old data: this service's own rows, and the processor's by its cleanup_data job."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from streams.config import Settings
from streams.messages.records import RequestState, utcnow
from streams.operations.offsets import KafkaOffsets
from streams.requests.client import request_processing
from streams.servers.db import retention
from streams.servers.db.retention import Target, delete_old

__all__ = ["PROCESSOR_JOB", "TARGETS", "CleanupReport", "cleanup", "processor_running"]

log = logging.getLogger(__name__)

PROCESSOR_JOB = "cleanup_data"
"""The processing job deleting the processor's old items, trends, snapshots, topics and vectors."""
TARGETS = (
    Target("plugin_runs", "started_at < $1"),
    Target("schedule_runs", "scheduled_for < $1"),
    Target("requests", "updated_at < $1"),
    Target("health_checks", "checked_at < $1"),
    Target("lag_samples", "sampled_at < $1"),
)
"""The rows this service deletes itself (see docs/architecture.md for who owns which table)."""


@dataclass
class CleanupReport(retention.CleanupReport):
    """The rows and vectors removed, this service's and the processor's (by its job)."""

    processor_request_id: str | None = None
    """The processor's `cleanup_data` request."""
    processor_state: str = RequestState.PENDING.value
    """Its state: SUCCESS once waited for (its figures are in this report), PENDING when no
    processor was running to wait for (it runs the job when it starts)."""


async def cleanup(settings: Settings, pool: asyncpg.Pool, days: int | None = None) -> CleanupReport:
    """Delete what is older than `days` (CLEANUP_DAYS): this service's rows batch by batch, the
    processor's by its `cleanup_data` job, requested first; the report holds both.

    The job's result is waited for while a processor is running (its time limits bound the
    wait; a failed job fails the cleanup, to be retried); with no processor running the job
    stays queued for it, and the report says PENDING.
    """
    days = days or settings.cleanup_days
    cutoff = utcnow() - timedelta(days=days)
    handle = await request_processing(
        PROCESSOR_JOB,
        options={"days": days},
        requested_by="maintenance:cleanup",
        timeout=settings.job_hard_time_limit_s,
        settings=settings,
    )
    try:
        report = CleanupReport(cutoff, processor_request_id=handle.request_id)
        for target in TARGETS:
            report.deleted[target.table] = await delete_old(
                pool, target, cutoff, settings.cleanup_batch_size
            )
        if await processor_running(settings):
            processed = await handle.result()
            report.processor_state = RequestState.SUCCESS.value
            report.deleted = {**processed["deleted"], **report.deleted}
            report.vectors_deleted = int(processed["vectors_deleted"])
            report.vectors_pending = int(processed["vectors_pending"])
            report.vectors_error = processed["vectors_error"]
    finally:
        await handle.close()
    log.info(
        "cleanup done cutoff=%s deleted=%s processor=%s",
        cutoff.isoformat(),
        report.deleted,
        report.processor_state,
    )
    return report


async def processor_running(settings: Settings) -> bool:
    """Whether the processor's consumer group has a member now (a worker to run the job)."""
    offsets = KafkaOffsets(settings)
    try:
        group = await offsets.read(f"{settings.namespace}trend-stream-processor")
    finally:
        await offsets.close()
    return group.members > 0
