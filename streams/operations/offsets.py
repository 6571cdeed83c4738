"""Offsets on the broker: the groups' committed and end offsets, and truncating a topic."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, get_args

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.commit import OffsetFetchRequest
from aiokafka.protocol.metadata import MetadataRequest

from streams.config import ServiceName, Settings
from streams.messages.topics import TopicSpec

__all__ = [
    "GroupOffsets",
    "KafkaOffsets",
    "PartitionReading",
    "service_groups",
    "truncate_topic",
]

COORDINATOR_WAIT_S = 30.0
"""How long a read waits out a group coordinator that is loading or moving."""


def service_groups(settings: Settings) -> list[str]:
    """The consumer group of each service: `<NAMESPACE>trend-stream-<service>`."""
    return [f"{settings.namespace}trend-stream-{service}" for service in get_args(ServiceName)]


@dataclass(frozen=True)
class PartitionReading:
    """One partition of a group as read: both offsets and the lag, or why they are unknown."""

    topic: str
    partition: int
    committed: int | None
    end_offset: int | None
    lag: int | None
    """End minus committed; None when unknown (never 0 for a partition that was not read)."""
    reason: str | None = None
    """Why the lag is unknown (None when it is known)."""

    @property
    def read(self) -> tuple[str, int, int | None, int | None, int | None]:
        """Topic, partition, committed and end offsets, lag: how every view of a partition's
        lag begins (then its status and the reason)."""
        return self.topic, self.partition, self.committed, self.end_offset, self.lag


@dataclass(frozen=True)
class GroupOffsets:
    """What the broker says of one group: its state, members, committed and end offsets."""

    group: str
    state: str
    members: int
    committed: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]
    unreadable: dict[TopicPartition, str] = field(default_factory=dict)
    """Partitions whose committed or end offset the broker did not give, with the reason."""

    def readings(self) -> list[PartitionReading]:
        """Every partition the group committed to (or whose commit could not be read), in
        order, with its lag: the one place broker answers become per-partition lag."""
        return [self._reading(tp) for tp in sorted({*self.committed, *self.unreadable})]

    def _reading(self, tp: TopicPartition) -> PartitionReading:
        committed, end = self.committed.get(tp), self.ends.get(tp)
        reason = self.unreadable.get(tp) or _why_unknown(committed, end)
        if reason is None and committed is not None and end is not None:
            return PartitionReading(tp.topic, tp.partition, committed, end, end - committed)
        return PartitionReading(tp.topic, tp.partition, committed, end, None, reason)


def _why_unknown(committed: int | None, end: int | None) -> str | None:
    """Why a partition's lag cannot be told from these two offsets (None: it can)."""
    if committed is None:
        return "no committed offset"
    if end is None:
        return "no end offset in the broker's answer"
    if committed > end:
        return f"committed offset {committed} is past the log end {end}"
    return None


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
        """The group's state and, for every partition it committed to, both offsets (or why
        one of them could not be read)."""
        admin, _ = await self._clients()
        described = (await admin.describe_consumer_groups([group]))[0].groups[0]
        state, members = str(described[2]), len(described[5])
        committed, unreadable = await _committed(admin, group)
        ends, missing = await self._ends_on_broker(list(committed))
        return GroupOffsets(group, state, members, committed, ends, {**missing, **unreadable})

    async def _ends_on_broker(
        self, partitions: list[TopicPartition]
    ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, str]]:
        """End offsets of the partitions that are on the broker, and why the others have none.

        The existence is checked first, without creating topics: the consumer's own metadata
        request would auto-create a deleted topic, empty, and read its end offset as 0.
        """
        admin, consumer = await self._clients()
        present, missing = await _on_broker(admin, partitions)
        ends: dict[TopicPartition, int] = {}
        for topic in sorted({tp.topic for tp in present}):
            wanted = [tp for tp in present if tp.topic == topic]
            try:
                ends.update(await consumer.end_offsets(wanted))
            except KafkaError as exc:
                reason = f"end offset not read: {type(exc).__name__}: {exc}"
                missing.update(dict.fromkeys(wanted, reason))
        return ends, missing

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
        """The partitions of a topic on the broker (none when the topic does not exist; asking
        does not create it)."""
        admin, _ = await self._clients()
        [described] = await _metadata(admin, [topic])
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


async def _committed(
    admin: AIOKafkaAdminClient, group: str
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, str]]:
    """The group's committed offsets, waiting out a coordinator that is loading or moving; and
    the partitions answered without an offset, with the reason.

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


async def _fetch_committed(
    admin: AIOKafkaAdminClient, group: str
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, str]]:
    coordinator = await admin.find_coordinator(group)
    response = await admin._send_request(OffsetFetchRequest(group, None), coordinator)
    if error := getattr(response, "error_code", 0):
        raise for_code(error)(f"offsets of group {group}")
    committed: dict[TopicPartition, int] = {}
    unreadable: dict[TopicPartition, str] = {}
    for topic, partitions in response.topics:
        for partition, offset, _metadata, code in partitions:
            tp = TopicPartition(topic, partition)
            if code:
                unreadable[tp] = f"committed offset not read: {for_code(code).__name__}"
            elif offset < 0:
                unreadable[tp] = f"committed offset answered as {offset}"
            else:
                committed[tp] = offset
    return committed, unreadable


async def _metadata(admin: AIOKafkaAdminClient, topics: list[str]) -> list[dict[str, Any]]:
    """The broker's metadata of these topics, asked without auto-creating a missing one."""
    request = MetadataRequest(topics, allow_auto_topic_creation=False)
    response = await admin._send_request(request)
    described: list[dict[str, Any]] = response.to_object()["topics"]
    return described


async def _on_broker(
    admin: AIOKafkaAdminClient, partitions: list[TopicPartition]
) -> tuple[list[TopicPartition], dict[TopicPartition, str]]:
    """The partitions the broker has, and why each of the others is missing."""
    if not partitions:
        return [], {}
    found: set[TopicPartition] = set()
    errors: dict[str, str] = {}
    for topic in await _metadata(admin, sorted({tp.topic for tp in partitions})):
        if topic["error_code"]:
            errors[topic["topic"]] = for_code(topic["error_code"]).__name__
        found.update(TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"])
    missing = {
        tp: f"topic not on the broker ({errors[tp.topic]})"
        if tp.topic in errors
        else "partition not on the broker"
        for tp in partitions
        if tp not in found
    }
    return [tp for tp in partitions if tp in found], missing
