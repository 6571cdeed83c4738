"""Soft and hard time limits and cancellation of a piece of work."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.reliability.limits import (
    HardTimeLimitExceeded,
    RevokedError,
    SoftTimeLimitExceeded,
    TimeLimits,
    run_limited,
)


async def _value_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


async def _ignoring_cancellation() -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(3600)  # ignores the first cancellation (the soft limit)


async def test_work_within_its_limits_returns_its_value() -> None:
    assert await run_limited(_value_after(0.01), TimeLimits(1, 2)) == "done"


# Upper bounds on elapsed time tell two outcomes apart, with a margin a loaded machine cannot
# eat: the limit that should act (well under a second) against the one that should not (60 s).
SLOWER = 60.0


async def test_the_soft_limit_cancels_the_work() -> None:
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded):
        await run_limited(_value_after(3600), TimeLimits(0.2, SLOWER))
    assert time.monotonic() - started < SLOWER / 2  # cancelled at the soft limit, not the hard


async def test_the_hard_limit_abandons_work_that_ignores_cancellation() -> None:
    started = time.monotonic()
    with pytest.raises(HardTimeLimitExceeded):
        await run_limited(_ignoring_cancellation(), TimeLimits(0.1, 0.3))
    assert 0.3 <= time.monotonic() - started < SLOWER / 2  # abandoned, not waited for (3600 s)


async def test_revocation_cancels_running_work_at_the_next_check() -> None:
    flag = asyncio.Event()

    async def revoked() -> bool:
        return flag.is_set()

    asyncio.get_running_loop().call_later(0.2, flag.set)
    started = time.monotonic()
    with pytest.raises(RevokedError):
        await run_limited(
            _value_after(3600), TimeLimits(SLOWER, 2 * SLOWER), revoked, check_every=0.05
        )
    assert time.monotonic() - started < SLOWER / 2  # stopped by the revocation, not a limit
