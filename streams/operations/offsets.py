"""Offsets on the broker: the groups' committed and end offsets, and truncating a topic."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import get_args

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.commit import OffsetFetchRequest

from streams.config import ServiceName, Settings
from streams.messages.topics import TopicSpec

__all__ = ["GroupOffsets", "KafkaOffsets", "service_groups", "truncate_topic"]

COORDINATOR_WAIT_S = 30.0
"""How long a read waits out a group coordinator that is loading or moving."""


def service_groups(settings: Settings) -> list[str]:
    """The consumer group of each service: `<NAMESPACE>trend-stream-<service>`."""
    return [f"{settings.namespace}trend-stream-{service}" for service in get_args(ServiceName)]


@dataclass(frozen=True)
class GroupOffsets:
    """What the broker says of one group: its state, members, committed and end offsets."""

    group: str
    state: str
    members: int
    committed: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]


class KafkaOffsets:
    """Reads groups' committed offsets (admin client) and end offsets (a group-less consumer)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            servers = self.settings.bootstrap_list
            admin = AIOKafkaAdminClient(bootstrap_servers=servers)
            consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
            await admin.start()
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def read(self, group: str) -> GroupOffsets:
        """The group's state and, for every partition it committed to, both offsets."""
        admin, consumer = await self._clients()
        described = (await admin.describe_consumer_groups([group]))[0].groups[0]
        state, members = str(described[2]), len(described[5])
        committed = await _committed(admin, group)
        ends = await consumer.end_offsets(list(committed)) if committed else {}
        return GroupOffsets(group, state, members, committed, dict(ends))

    async def ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The log end offset of each partition."""
        _, consumer = await self._clients()
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends

    async def starts(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The first offset still on the broker of each partition."""
        _, consumer = await self._clients()
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        return starts

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """The partitions of a topic on the broker (none when the topic does not exist)."""
        admin, _ = await self._clients()
        [described] = await admin.describe_topics([topic])
        numbers = [p["partition"] for p in described.get("partitions") or []]
        return [TopicPartition(topic, p) for p in sorted(numbers)]

    async def truncate(self, topic: str) -> dict[int, int]:
        """Delete a topic's records up to its end offsets; the records deleted per partition."""
        partitions = await self.partitions(topic)
        if not partitions:
            raise LookupError(f"topic {topic} does not exist on the broker")
        admin, _ = await self._clients()
        starts = await self.starts(partitions)
        ends = await self.ends(partitions)
        wanted = {tp: RecordsToDelete(end) for tp, end in ends.items() if end > starts[tp]}
        if wanted:
            await admin.delete_records(wanted)
        return {tp.partition: ends[tp] - starts[tp] for tp in partitions}

    async def close(self) -> None:
        """Close both clients."""
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._admin = self._consumer = None


async def truncate_topic(settings: Settings, spec: TopicSpec) -> dict[int, int]:
    """Delete every record of a catalog topic up to its end offsets (Kafka's delete_records).

    Returns the records deleted per partition; LookupError when the topic is not on the broker.
    """
    offsets = KafkaOffsets(settings)
    try:
        return await offsets.truncate(spec.full_name(settings))
    finally:
        await offsets.close()


async def _committed(admin: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, waiting out a coordinator that is loading or moving.

    aiokafka's `list_consumer_group_offsets` ignores the response's group-level error: a
    coordinator still loading its offsets answers with no partitions and no error raised, which
    reads as a group that never committed.
    """
    deadline = time.monotonic() + COORDINATOR_WAIT_S
    while True:
        try:
            return await _fetch_committed(admin, group)
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _fetch_committed(admin: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    coordinator = await admin.find_coordinator(group)
    response = await admin._send_request(OffsetFetchRequest(group, None), coordinator)
    if error := getattr(response, "error_code", 0):
        raise for_code(error)(f"offsets of group {group}")
    committed: dict[TopicPartition, int] = {}
    for topic, partitions in response.topics:
        for partition, offset, _metadata, code in partitions:
            if code:
                raise for_code(code)(f"offset of group {group} on {topic}:{partition}")
            if offset >= 0:
                committed[TopicPartition(topic, partition)] = offset
    return committed
