"""Soft and hard time limits, and cancellation, for a piece of work run by a worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from streams.config import Settings
from streams.exceptions import TrendStreamError

__all__ = [
    "HardTimeLimitExceeded",
    "RevokedError",
    "SoftTimeLimitExceeded",
    "TimeLimits",
    "job_limits",
    "run_limited",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
_abandoned: set[asyncio.Task[Any]] = set()


class SoftTimeLimitExceeded(TrendStreamError):  # noqa: N818 - Celery's name, kept for its users
    """The work ran past its soft limit and was cancelled (retried per policy)."""


class HardTimeLimitExceeded(TrendStreamError):  # noqa: N818 - Celery's name, kept for its users
    """The work ignored its cancellation and ran past its hard limit; it was abandoned."""


class RevokedError(TrendStreamError):
    """The request was revoked (cancelled) before or while it ran."""


@dataclass(frozen=True)
class TimeLimits:
    """Seconds a piece of work may run: `soft` cancels it, `hard` gives up on it."""

    soft: float
    hard: float


def job_limits(settings: Settings) -> TimeLimits:
    """The time limits of processing and maintenance jobs (the hard one never below the soft)."""
    soft = settings.job_soft_time_limit_s
    return TimeLimits(soft, max(soft, settings.job_hard_time_limit_s))


async def run_limited(
    work: Awaitable[T],
    limits: TimeLimits,
    revoked: Callable[[], Awaitable[bool]] | None = None,
    check_every: float = 1.0,
) -> T:
    """Run `work`; cancel it at the soft limit or when `revoked()` says so; abandon it at the hard.

    Raises SoftTimeLimitExceeded, RevokedError or HardTimeLimitExceeded accordingly.
    """
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    cause: TrendStreamError | None = None
    try:
        while not task.done():
            elapsed = time.monotonic() - started
            if elapsed >= limits.hard:
                _abandon(task, limits)
            if cause is None:
                cause = await _stop_reason(elapsed, limits, revoked)
                if cause is not None:
                    task.cancel()
            deadline = limits.hard if cause else min(limits.soft, elapsed + check_every)
            await asyncio.wait({task}, timeout=max(0.01, deadline - elapsed))
    except BaseException:
        task.cancel()
        raise
    return _outcome(task, cause)


async def _stop_reason(
    elapsed: float, limits: TimeLimits, revoked: Callable[[], Awaitable[bool]] | None
) -> TrendStreamError | None:
    if elapsed >= limits.soft:
        return SoftTimeLimitExceeded(f"soft time limit ({limits.soft:g} s) exceeded")
    if revoked is not None and await revoked():
        return RevokedError("revoked while running")
    return None


def _outcome(task: asyncio.Task[T], cause: TrendStreamError | None) -> T:
    if cause is not None:
        if not task.cancelled() and task.exception() is None:
            log.warning("work ignored its cancellation but ended: %s", cause)
        raise cause
    return task.result()


def _abandon(task: asyncio.Task[Any], limits: TimeLimits) -> NoReturn:
    _abandoned.add(task)  # keep a reference: the loop only holds tasks weakly
    task.add_done_callback(_abandoned.discard)
    task.cancel()
    raise HardTimeLimitExceeded(f"hard time limit ({limits.hard:g} s) exceeded; work abandoned")
