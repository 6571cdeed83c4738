"""Reading a group's offsets: a loading coordinator is waited out, and a partition whose
committed or end offset could not be read is unknown (with the reason), never lag 0."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError
from aiokafka.protocol.metadata import MetadataRequest

from streams.config import load_settings
from streams.operations import offsets
from streams.operations.offsets import GroupOffsets, KafkaOffsets, PartitionReading, _committed

LOADING, DENIED, UNKNOWN_TOPIC = 14, 30, 3
T0, T1, T2 = (TopicPartition("t", n) for n in range(3))


@dataclass
class _Response:
    error_code: int = 0
    topics: list[Any] = field(default_factory=list)


class _Admin:
    """Answers OffsetFetch with the queued responses, one per request."""

    def __init__(self, *responses: _Response) -> None:
        self.responses = list(responses)
        self.sent = 0

    async def find_coordinator(self, group: str) -> int:
        return 1

    async def _send_request(self, request: object, node: int) -> _Response:
        self.sent += 1
        return self.responses.pop(0)


_COMMITTED = _Response(topics=[("t", [(0, 5, "", 0), (1, -1, "", 0)])])


async def test_a_loading_coordinator_is_asked_again_not_read_as_no_offsets() -> None:
    admin = _Admin(_Response(error_code=LOADING), _COMMITTED)
    committed, unreadable = await _committed(admin, "g")  # type: ignore[arg-type]
    assert committed == {T0: 5}
    assert unreadable == {T1: "committed offset answered as -1"}
    assert admin.sent == 2


async def test_a_partition_answered_with_an_error_is_unreadable_not_left_out() -> None:
    admin = _Admin(_Response(topics=[("t", [(0, 5, "", 0), (1, 9, "", UNKNOWN_TOPIC)])]))
    committed, unreadable = await _committed(admin, "g")  # type: ignore[arg-type]
    assert committed == {T0: 5}
    assert unreadable == {T1: "committed offset not read: UnknownTopicOrPartitionError"}


async def test_a_refusal_is_raised_at_once() -> None:
    admin = _Admin(_Response(error_code=DENIED), _COMMITTED)
    with pytest.raises(GroupAuthorizationFailedError):
        await _committed(admin, "g")  # type: ignore[arg-type]
    assert admin.sent == 1


async def test_a_coordinator_loading_past_the_deadline_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offsets, "COORDINATOR_WAIT_S", 0.0)
    admin = _Admin(_Response(error_code=LOADING), _Response(error_code=LOADING))
    with pytest.raises(Exception, match="offsets of group g"):
        await _committed(admin, "g")  # type: ignore[arg-type]


def _group(
    committed: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    unreadable: dict[TopicPartition, str] | None = None,
) -> GroupOffsets:
    return GroupOffsets("g", "Stable", 1, committed, ends, unreadable or {})


def test_lag_is_end_minus_committed_per_partition() -> None:
    readings = _group({T1: 4, T0: 2}, {T0: 5, T1: 4}).readings()
    assert readings == [PartitionReading("t", 0, 2, 5, 3), PartitionReading("t", 1, 4, 4, 0)]


@pytest.mark.parametrize(
    ("group", "committed", "end", "reason"),
    [
        (_group({T0: 2}, {}), 2, None, "no end offset in the broker's answer"),
        (_group({T0: 2}, {}, {T0: "topic not on the broker"}), 2, None, "topic not on the"),
        (_group({}, {}, {T0: "committed offset answered as -1"}), None, None, "answered as -1"),
        (_group({T0: 9}, {T0: 4}), 9, 4, "committed offset 9 is past the log end 4"),
    ],
    ids=["end-missing", "end-unreadable", "committed-unreadable", "past-the-end"],
)
def test_a_partition_not_read_is_unknown_with_the_reason_never_lag_0(
    group: GroupOffsets, committed: int | None, end: int | None, reason: str
) -> None:
    [reading] = group.readings()
    assert (reading.committed, reading.end_offset, reading.lag) == (committed, end, None)
    assert reading.reason is not None and reason in reading.reason


class _Broker:
    """The admin's metadata and the consumer's end offsets of a broker holding topic `t` with
    partitions 0 and 1 (3 messages each), and no topic `gone`."""

    def __init__(self, ends_fail: bool = False) -> None:
        self.ends_fail = ends_fail
        self.asked_ends: list[TopicPartition] = []

    async def _send_request(self, request: object, node: int | None = None) -> Any:
        assert isinstance(request, MetadataRequest)
        assert request._allow_auto_topic_creation is False  # asking must not create a topic
        topics = [
            {"topic": name, "error_code": 0 if name == "t" else UNKNOWN_TOPIC, "partitions": []}
            for name in request._topics or []
        ]
        for topic in topics:
            if topic["topic"] == "t":
                topic["partitions"] = [{"partition": 0}, {"partition": 1}]
        return _Metadata(topics)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked_ends += partitions
        if self.ends_fail:
            raise KafkaTimeoutError("no leader")
        return dict.fromkeys(partitions, 3)


@dataclass
class _Metadata:
    topics: list[dict[str, Any]]

    def to_object(self) -> dict[str, Any]:
        return {"topics": self.topics}


def _reader(broker: _Broker) -> KafkaOffsets:
    reader = KafkaOffsets(load_settings())
    reader._admin = reader._consumer = broker  # type: ignore[assignment]
    return reader


async def test_ends_of_partitions_not_on_the_broker_are_unknown_and_not_asked_for() -> None:
    broker = _Broker()
    gone = TopicPartition("gone", 0)
    ends, missing = await _reader(broker)._ends_on_broker([T0, T1, T2, gone])
    assert ends == {T0: 3, T1: 3}
    assert missing == {
        T2: "partition not on the broker",
        gone: "topic not on the broker (UnknownTopicOrPartitionError)",
    }
    assert broker.asked_ends == [T0, T1]  # a consumer asked for `gone` would auto-create it


async def test_end_offsets_that_cannot_be_read_are_unknown_with_the_error() -> None:
    broker = _Broker(ends_fail=True)
    ends, missing = await _reader(broker)._ends_on_broker([T0])
    assert ends == {}
    assert missing[T0].startswith("end offset not read: KafkaTimeoutError")
