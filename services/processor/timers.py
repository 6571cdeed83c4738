"""The processor's timers: its jobs' schedules of the catalog (on the leader), and the cluster
stage owner's timekeeping (on the worker that owns the stage)."""

from __future__ import annotations

import logging

from services.processor.agents import owner, publisher, resources
from services.processor.app import app
from services.processor.topics import jobs_topic
from streams.config import Settings
from streams.messages.records import JobRequest, ProcessRequest
from streams.requests.jobs import scheduled_jobs
from streams.requests.schedules import Schedule, install

__all__ = ["TIMEKEEPING_S", "get_scheduler", "keep_trends_current", "processing_schedules"]

log = logging.getLogger(__name__)
TIMEKEEPING_S = 60.0
"""How often the cluster stage's owner looks whether the stream fell silent."""


async def _send(request: JobRequest) -> None:
    await jobs_topic.send(key=request.request_id, value=request.dumps())


def processing_schedules(settings: Settings) -> list[Schedule]:
    """The processing jobs' default schedules of the catalog (an empty cron: off)."""
    return scheduled_jobs(settings, ProcessRequest, _send)


get_scheduler = install(app, app.settings, processing_schedules(app.settings), resources.pool)


@app.timer(interval=TIMEKEEPING_S)
async def keep_trends_current() -> None:
    """On the owner of the cluster stage, when the stream fell silent for a whole activity
    bucket: the stage's clock moved to the wall clock and its trends rescored, saved (fenced)
    and announced (ClusterOwner.keep_time); on other workers, nothing. A failure is logged
    (the owner stood down; the next batch takes the stage over anew), never raised."""
    try:
        result = await owner.keep_time()
        if result is not None:
            await publisher.trends(result)
    except Exception:  # a timer that raised would stop the worker
        log.exception("cluster stage timekeeping failed")
        return
    if result is not None:
        log.info("silent stream: trends rescored trends=%d", len(result.trends))
