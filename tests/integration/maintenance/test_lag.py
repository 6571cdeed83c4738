"""Consumer lag against the real broker: a group that stops while producers go on leaves OK; a
partition whose offsets could not be read is recorded, shown and alerted as UNKNOWN."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.maintenance.dashboard.groups import recorded_groups
from services.maintenance.lag import GroupOffsets, KafkaOffsets, LagMonitor, lag_history
from streams.config import Settings
from streams.messages.records import utcnow
from streams.operations.lag import GroupLag, LagStatus
from tests.integration.maintenance.conftest import Alerts

SAMPLE_EVERY_S = 0.3


@pytest.fixture
async def topic(test_settings: Settings) -> str:
    """A two-partition topic in the test's namespace."""
    name = f"{test_settings.namespace}lag.test"
    admin = AIOKafkaAdminClient(bootstrap_servers=test_settings.bootstrap_list)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    return name


@contextlib.asynccontextmanager
async def running(loop: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run a loop in the background until the block ends."""
    task = asyncio.create_task(loop)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def producing(settings: Settings, topic: str) -> AsyncIterator[None]:
    """Produce a message every 20 ms to both partitions until the block ends."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list)
    await producer.start()

    async def loop() -> None:
        for n in itertools.count():
            await producer.send_and_wait(topic, b"x", partition=n % 2)
            await asyncio.sleep(0.02)

    try:
        async with running(loop()):
            yield
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def consuming(settings: Settings, topic: str, group: str) -> AsyncIterator[None]:
    """A member of `group` reading and committing until the block ends (then it leaves)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_list,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()

    async def loop() -> None:
        while True:
            if await consumer.getmany(timeout_ms=100):
                await consumer.commit()

    try:
        async with running(loop()):
            yield
    finally:
        await consumer.stop()


async def sample_until(
    run: Callable[[], Awaitable[list[GroupLag]]],
    group: str,
    wanted: Callable[[GroupLag], bool],
    timeout: float = 60.0,
) -> GroupLag:
    """Sample every SAMPLE_EVERY_S until the group's lag satisfies `wanted` (or fail)."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = next(lag for lag in await run() if lag.group == group)
        if wanted(seen):
            return seen
        await asyncio.sleep(SAMPLE_EVERY_S)
    raise AssertionError(f"{group}: never reached the wanted status; last: {seen}")


async def test_a_group_that_stops_reaches_stop_and_catching_up_brings_it_back_to_ok(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts, topic: str
) -> None:
    settings = test_settings.model_copy(update={"lag_window": 4, "lag_alert_threshold": 10**9})
    group = f"{settings.namespace}trend-stream-processor"
    monitor = LagMonitor(settings)

    async def run() -> list[GroupLag]:
        return await monitor.run(pool, alerts)

    try:
        async with producing(settings, topic):
            async with consuming(settings, topic, group):
                consumed = await sample_until(
                    run, group, lambda g: len(g.partitions) == 2 and g.members == 1
                )
                assert consumed.status is LagStatus.OK
            stopped = await sample_until(run, group, lambda g: g.status is not LagStatus.OK)
        assert stopped.status in {LagStatus.STOP, LagStatus.STALL}
        assert stopped.total_lag > 0 and stopped.members == 0
        async with consuming(settings, topic, group):
            back = await sample_until(
                run, group, lambda g: g.status is LagStatus.OK and g.total_lag == 0
            )
        assert back.members == 1
    finally:
        await monitor.close()

    # The alerts tell the group's story: it left OK and came back, alerts alternating between
    # leaving OK and coming back, the status it stopped in among them. A loaded machine can hold
    # the consumer back for a window of samples (a WARN and its recovery before the stop, or a
    # WARN that turns into STOP without an alert of its own): more pairs, never another story.
    mine = [(a.previous_state, a.state) for a in alerts if a.subject == group]
    assert 2 <= len(mine) <= 6 and len(mine) % 2 == 0, mine
    leaving, returning = mine[0::2], mine[1::2]
    assert all(was == "OK" and now != "OK" for was, now in leaving), mine
    assert all(was != "OK" and now == "OK" for was, now in returning), mine
    assert stopped.status.value in {state for pair in mine for state in pair}, mine
    history = await lag_history(pool, group, utcnow().replace(year=2000))
    assert len(history) >= 3
    assert stopped.status.value in {status for point in history for status in point["statuses"]}
    assert history[-1]["total_lag"] == 0


async def test_a_member_that_stops_committing_stalls(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts, topic: str
) -> None:
    settings = test_settings.model_copy(update={"lag_window": 3})
    group = f"{settings.namespace}trend-stream-collector"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_list, group_id=group, enable_auto_commit=False
    )
    monitor = LagMonitor(settings)
    await consumer.start()
    try:
        async with producing(settings, topic):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            await consumer.commit({tp: 0 for tp in consumer.assignment()})
            stalled = await sample_until(
                monitor.sample, group, lambda g: g.status is LagStatus.STALL
            )
    finally:
        await consumer.stop()
        await monitor.close()
    assert stalled.members == 1 and stalled.total_lag > 0
    assert all(p.committed == 0 for p in stalled.partitions)


GONE = "topic not on the broker (UnknownTopicOrPartitionError)"


class _Scripted(KafkaOffsets):
    """The broker's answers, scripted: the collector's partition 1 could not be read."""

    async def read(self, group: str) -> GroupOffsets:
        if not group.endswith("collector"):
            return GroupOffsets(group, "Dead", 0, {}, {})
        tp0, tp1 = TopicPartition("items.raw", 0), TopicPartition("items.raw", 1)
        return GroupOffsets(group, "Stable", 1, {tp0: 2, tp1: 5}, {tp0: 4}, {tp1: GONE})


async def test_an_unknown_partition_is_recorded_shown_and_alerted_as_unknown(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts
) -> None:
    group = f"{test_settings.namespace}trend-stream-collector"
    monitor = LagMonitor(test_settings, _Scripted(test_settings))
    [sampled] = [lag for lag in await monitor.run(pool, alerts) if lag.group == group]
    assert (sampled.status, sampled.total_lag) == (LagStatus.UNKNOWN, None)
    rows = await pool.fetch(
        "SELECT partition, committed, end_offset, lag, status, reason FROM lag_samples "
        "WHERE group_id = $1 ORDER BY partition",
        group,
    )
    assert [tuple(row) for row in rows] == [
        (0, 2, 4, 2, "OK", None),
        (1, 5, None, None, "UNKNOWN", GONE),
    ]
    [alert] = [a for a in alerts if a.subject == group]
    assert (alert.previous_state, alert.state) == ("OK", "UNKNOWN") and GONE in alert.message

    recorded = (await recorded_groups(pool, [group]))[group]
    assert (recorded.status, recorded.total_lag) == (LagStatus.UNKNOWN, None)
    assert [(p.lag, p.reason) for p in recorded.partitions] == [(2, None), (None, GONE)]
    [point] = await lag_history(pool, group, utcnow().replace(year=2000))
    assert point["total_lag"] is None and point["statuses"] == ["OK", "UNKNOWN"]
