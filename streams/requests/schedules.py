"""Leader schedules for any service: one run per slot (PostgreSQL), a missed slot caught up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import faust
from croniter import croniter

from streams.config import Settings
from streams.messages.records import JobRequest, utcnow
from streams.requests.reporting import worker_name

__all__ = [
    "Fire",
    "JobSend",
    "Schedule",
    "Scheduler",
    "SlotClaims",
    "install",
    "job_schedules",
    "latest_slot",
    "survive",
]

log = logging.getLogger(__name__)
FIRE_TOLERANCE = timedelta(seconds=1)
"""A crontab firing this much early still counts for the slot it fires for."""


Fire = Callable[[str], Awaitable[None]]
"""What a slot does, given the request id of the slot's run (`<job>.<slot time>`)."""


@dataclass(frozen=True)
class Schedule:
    """A job on a cron; `job` is unique across the cluster (prefix it with NAMESPACE)."""

    job: str
    cron: str
    fire: Fire


JobSend = Callable[[JobRequest], Awaitable[None]]
"""Produces a job request to its service's requests topic."""


def job_schedules(
    settings: Settings,
    kind: type[JobRequest],
    wanted: Sequence[tuple[str, str, dict[str, Any]]],
    send: JobSend,
) -> list[Schedule]:
    """A schedule per (job, cron, options) whose cron is not empty: each slot sends a request.

    The schedule's name is the job prefixed with NAMESPACE; the request id is the slot's.
    """
    return [
        Schedule(
            name := f"{settings.namespace}{job}", cron, _send_job(kind, job, name, options, send)
        )
        for job, cron, options in wanted
        if cron
    ]


def _send_job(
    kind: type[JobRequest], job: str, name: str, options: dict[str, Any], send: JobSend
) -> Fire:
    async def fire(request_id: str) -> None:
        request = kind(
            job=job, request_id=request_id, options=options, requested_by=f"schedule:{name}"
        )
        await send(request)

    return fire


def latest_slot(cron: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent time the cron was due, at or before `now`."""
    probe = now.astimezone(tz) + FIRE_TOLERANCE
    slot: datetime = croniter(cron, probe).get_prev(datetime)
    return slot


class SlotClaims:
    """schedule_runs rows: the first worker to insert (job, slot) runs it; the others skip."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim(self, job: str, slot: datetime, worker: str) -> bool:
        """True for the one caller that gets the slot."""
        row = await self.pool.fetchval(
            "INSERT INTO schedule_runs (job, scheduled_for, worker) VALUES ($1, $2, $3) "
            "ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING id",
            job,
            slot,
            worker,
        )
        return row is not None

    async def finish(self, job: str, slot: datetime, status: str, request_id: str) -> None:
        """Record how the slot's run ended."""
        await self.pool.execute(
            "UPDATE schedule_runs SET finished_at = now(), status = $3, "
            "detail = jsonb_build_object('request_id', $4::text) "
            "WHERE job = $1 AND scheduled_for = $2",
            job,
            slot,
            status,
            request_id,
        )


class Scheduler:
    """Runs the slots of the schedules, each at most once, whoever the leader is."""

    def __init__(
        self, settings: Settings, claims: SlotClaims, schedules: list[Schedule], worker: str
    ) -> None:
        self.settings = settings
        self.claims = claims
        self.schedules = schedules
        self.worker = worker
        self.tz = ZoneInfo(settings.schedule_timezone)

    async def run_slot(self, schedule: Schedule, slot: datetime) -> str | None:
        """Fire the slot unless it ran already; the run's request id if it ran."""
        if not await self.claims.claim(schedule.job, slot, self.worker):
            return None
        request_id = f"{schedule.job}.{slot.astimezone(self.tz):%Y%m%dT%H%M%S}"
        await schedule.fire(request_id)
        await self.claims.finish(schedule.job, slot, "TRIGGERED", request_id)
        log.info(
            "schedule fired job=%s slot=%s",
            schedule.job,
            slot.isoformat(),
            extra={"request_id": request_id},
        )
        return request_id

    async def fire(self, schedule: Schedule) -> str | None:
        """Run the slot that is due now (the crontab calls this)."""
        return await self.run_slot(schedule, latest_slot(schedule.cron, self.tz, utcnow()))

    async def catch_up(self) -> list[str]:
        """Run each schedule's latest slot if it was missed and is recent enough."""
        now, ran = utcnow(), []
        max_age = timedelta(seconds=self.settings.schedule_catchup_max_age_s)
        for schedule in self.schedules:
            slot = latest_slot(schedule.cron, self.tz, now)
            if now - slot <= max_age and (request_id := await self.run_slot(schedule, slot)):
                ran.append(request_id)
        return ran


def install(
    app: faust.App,
    settings: Settings,
    schedules: list[Schedule],
    pool: Callable[[], Awaitable[asyncpg.Pool]],
) -> Callable[[], Awaitable[Scheduler]]:
    """Register each schedule as a leader crontab, and the leader's catch-up timer, on an app.

    Returns the getter of the worker's scheduler, built on first use.
    """
    built: list[Scheduler] = []

    async def scheduler() -> Scheduler:
        if not built:
            built.append(Scheduler(settings, SlotClaims(await pool()), schedules, worker_name()))
        return built[0]

    _register(app, settings, schedules, scheduler)
    return scheduler


def _register(
    app: faust.App,
    settings: Settings,
    schedules: list[Schedule],
    scheduler: Callable[[], Awaitable[Scheduler]],
) -> None:
    tz = ZoneInfo(settings.schedule_timezone)
    for schedule in schedules:
        app.crontab(schedule.cron, timezone=tz, on_leader=True)(_crontab_job(schedule, scheduler))

    async def catch_up_schedules() -> None:
        await survive("schedule catch-up", (await scheduler()).catch_up)

    app.timer(interval=settings.schedule_check_interval_s, on_leader=True)(catch_up_schedules)


async def _fire(scheduler: Callable[[], Awaitable[Scheduler]], schedule: Schedule) -> None:
    await (await scheduler()).fire(schedule)


async def survive(what: str, run: Callable[[], Awaitable[object]]) -> None:
    """Run a timer's work; a failure (a server away) is logged, never allowed to stop the worker.

    Faust stops the whole app when a timer raises; the next tick (or the catch-up of a missed
    slot) tries again.
    """
    try:
        await run()
    except Exception:
        log.exception("%s failed; the next tick tries again", what)


def _crontab_job(
    schedule: Schedule, scheduler: Callable[[], Awaitable[Scheduler]]
) -> Callable[[], Awaitable[None]]:
    async def fire() -> None:
        await survive(f"schedule {schedule.job}", lambda: _fire(scheduler, schedule))

    fire.__name__ = fire.__qualname__ = f"schedule_{schedule.job}"
    return fire
