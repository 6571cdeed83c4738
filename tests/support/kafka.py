"""Plain aiokafka helpers: produce and read as any outside client would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config import Settings
from streams.messages.records import RequestStatus
from streams.messages.topics import COLLECT_RESULTS, TopicSpec


async def produce(
    settings: Settings, spec: TopicSpec, value: bytes | None, key: bytes | None = None
) -> None:
    """Send one message with a bare aiokafka producer."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_list, max_request_size=16 * 1024 * 1024
    )
    await producer.start()
    try:
        await producer.send_and_wait(spec.full_name(settings), value, key=key)
    finally:
        await producer.stop()


async def commit_offsets(
    settings: Settings,
    group: str,
    offsets: dict[TopicPartition, int],
    *,
    auto_commit: bool = False,
) -> None:
    """Commit exactly these offsets for `group`, as a client outside the group would.

    Auto-commit stays off: a consumer that commits on stop would commit the positions it reset
    to meanwhile (the end offsets, its default) over these, whenever the commit took long enough
    for the reset, e.g. while a fresh broker creates its offsets topic. `auto_commit=True`
    commits that way, to show the race (scripts/lag_race.py).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_list, group_id=group, enable_auto_commit=auto_commit
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def read_until(
    settings: Settings,
    spec: TopicSpec,
    done: Callable[[list[bytes]], bool],
    timeout: float = 60.0,
) -> list[bytes]:
    """Read a topic from its beginning until done(values) holds or the deadline passes."""
    topic = spec.full_name(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while not done(values) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            values += [r.value for batch in batches.values() for r in batch if r.value is not None]
    finally:
        await consumer.stop()
    return values


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        if topic in await consumer.topics():
            counts = await partition_counts_of(consumer, topic)
            return set(range(counts))
        await asyncio.sleep(0.2)
    raise AssertionError(f"topic {topic} never appeared")


async def partition_counts_of(consumer: AIOKafkaConsumer, topic: str) -> int:
    """How many partitions a topic has, from a fresh metadata request."""
    cluster = await consumer._client.fetch_all_metadata()
    return len(cluster.partitions_for_topic(topic) or ())


async def partition_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    """Partition count of each topic as the broker reports it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def delete_namespace(settings: Settings) -> None:
    """Delete every topic of a test's namespace (its catalog and Faust's internal topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.namespace)]
        if names and settings.namespace:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def final_statuses(values: list[bytes]) -> dict[str, RequestStatus]:
    """The final status of each request among these values of a results topic."""
    statuses = [RequestStatus.parse(value) for value in values]
    return {status.request_id: status for status in statuses if status.state.is_final}


async def wait_final(
    settings: Settings,
    request_ids: set[str],
    timeout: float = 90.0,
    results: TopicSpec = COLLECT_RESULTS,
) -> dict[str, RequestStatus]:
    """Read a results topic (collect.results unless told) until every one of these requests
    has a final status."""
    values = await read_until(
        settings, results, lambda v: request_ids <= set(final_statuses(v)), timeout
    )
    finals = final_statuses(values)
    missing = request_ids - set(finals)
    assert not missing, f"no final status for {sorted(missing)} within {timeout}s"
    return finals


async def read_all(settings: Settings, spec: TopicSpec, timeout: float = 60.0) -> list[bytes]:
    """Every value a topic holds now: read from the beginning up to its end offsets."""
    topic = spec.full_name(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while await _behind(consumer, ends):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batches = await consumer.getmany(timeout_ms=500)
            values += [r.value for batch in batches.values() for r in batch if r.value is not None]
    finally:
        await consumer.stop()
    return values


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False
