"""Lag read at once on a fresh broker: a topic and groups created moments before the read, their
coordinator created and loading meanwhile (no __consumer_offsets yet), read exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from streams.config import Settings
from streams.messages.topics import ITEMS_RAW
from streams.operations.inspect import consumer_lag
from tests.support.kafka import commit_offsets, produce
from tests.support.stack import free_port_pair, stack

GROUPS = 3
"""Groups committing at once on the fresh broker: each commit meets the coordinator loading."""


@pytest.fixture
def fresh_kafka(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on an Apache Kafka of its own, started empty, purged afterwards."""
    settings = test_settings.model_copy(
        update={
            "state_dir": tmp_path / "fresh",
            "kafka_bootstrap_servers": f"127.0.0.1:{free_port_pair()}",
        }
    )
    stack(settings, "start", "kafka")
    try:
        yield settings
    finally:
        stack(settings, "purge")


async def test_offsets_committed_on_a_fresh_broker_are_read_at_once(
    fresh_kafka: Settings,
) -> None:
    settings = fresh_kafka
    for n in range(3):  # the first send auto-creates the topic
        await produce(settings, ITEMS_RAW, b"{}", key=f"k{n}".encode())
    topic = ITEMS_RAW.full_name(settings)
    partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
    groups = [f"{settings.namespace}fresh-{n}" for n in range(GROUPS)]
    await asyncio.gather(
        *(commit_offsets(settings, group, dict.fromkeys(partitions, 0)) for group in groups)
    )
    for group in groups:
        [view] = await consumer_lag(settings, group, with_status=False)
        read = [(p.topic, p.partition, p.committed, p.reason) for p in view.partitions]
        assert read == [(topic, p, 0, None) for p in range(settings.topic_partitions)], group
        assert view.total_lag == 3, (group, view)
        assert sum(p.end_offset or 0 for p in view.partitions) == 3
