"""Failover: after a kill -9, the surviving collector holds every partition within 10 s."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from streams.config import Settings
from streams.messages.topics import COLLECT_REQUESTS
from tests.support.workers import Worker, poll

pytestmark = pytest.mark.slow
FAILOVER_MAX_S = 10.0
"""The broker session timeout (BROKER_SESSION_TIMEOUT_S, 6 s) plus a rebalance."""


def _held(worker: Worker, topic: str) -> set[str]:
    """The partitions of `topic` the worker's /health says it holds (none while it is away)."""
    response = worker.health()
    if response is None or response.status_code != 200:
        return set()
    return {tp for tp in response.json()["assignment"] if tp.rsplit(":", 1)[0] == topic}


async def test_a_killed_collector_s_partitions_move_to_the_survivor_within_10_s(
    test_settings: Settings,
    start_workers: Callable[..., list[Worker]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = COLLECT_REQUESTS.full_name(test_settings)
    every = {f"{topic}:{n}" for n in range(test_settings.topic_partitions)}
    victim, survivor = start_workers("collector", test_settings, count=2)

    def split() -> bool:
        mine, theirs = _held(victim, topic), _held(survivor, topic)
        return bool(mine) and bool(theirs) and mine | theirs == every and not mine & theirs

    assert poll(split, 90), "the two collectors never shared the partitions"
    victim.process.kill()  # SIGKILL: no goodbye to the group; the broker must notice the silence
    killed = time.monotonic()
    assert poll(lambda: _held(survivor, topic) == every, 60, interval=0.05), (
        f"the survivor holds {sorted(_held(survivor, topic))} a minute after the kill"
    )
    failover = time.monotonic() - killed
    victim.process.wait(10)
    with capsys.disabled():
        print(f"\ncollector failover after kill -9: {failover:.1f} s (limit {FAILOVER_MAX_S:g} s)")
    assert failover <= FAILOVER_MAX_S
    assert survivor.process.poll() is None
