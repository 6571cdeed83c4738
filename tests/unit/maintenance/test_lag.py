"""The lag monitor on scripted offsets: windows fill while a group consumes; alerts on changes;
a partition whose offsets could not be read is UNKNOWN, sampled and alerted as such."""

from __future__ import annotations

from aiokafka import TopicPartition

from services.maintenance.lag import (
    GroupOffsets,
    LagMonitor,
    group_dict,
    lag_alert,
    service_groups,
)
from streams.config import load_settings
from streams.messages.records import AlertSeverity
from streams.operations.lag import GroupLag, LagStatus

TP = TopicPartition("items.raw", 0)
TP1 = TopicPartition("items.raw", 1)


def offsets(committed: int, end: int, members: int = 1) -> GroupOffsets:
    return GroupOffsets("g", "Stable" if members else "Empty", members, {TP: committed}, {TP: end})


def test_service_groups_follow_the_app_ids() -> None:
    assert service_groups(load_settings(namespace="x.")) == [
        "x.trend-stream-collector",
        "x.trend-stream-processor",
        "x.trend-stream-maintenance",
    ]


def test_a_consuming_group_is_ok_and_a_stuck_one_stalls() -> None:
    monitor = LagMonitor(load_settings(lag_window=3))
    statuses = [monitor.judge(offsets(n * 10, n * 10 + 3 - n), float(n)).status for n in range(3)]
    assert statuses == [LagStatus.OK] * 3
    stuck = [monitor.judge(offsets(20, 30 + n), 3.0 + n).status for n in range(3)]
    assert stuck[-1] is LagStatus.STALL


def test_a_group_that_left_stops_once_the_window_span_has_passed() -> None:
    monitor = LagMonitor(load_settings(lag_window=5))
    for n in range(3):
        monitor.judge(offsets(n * 10, n * 10), float(n * 10))
    assert monitor.judge(offsets(20, 50, members=0), 30.0).status is LagStatus.OK
    gone = monitor.judge(offsets(20, 60, members=0), 41.0)
    assert (gone.status, gone.total_lag, gone.members) == (LagStatus.STOP, 40, 0)
    assert len(monitor.windows[("g", "items.raw", 0)].samples) == 3


def test_catching_up_brings_a_group_back_to_ok() -> None:
    monitor = LagMonitor(load_settings(lag_window=3))
    for n in range(3):
        monitor.judge(offsets(5, 10 + n), float(n))
    assert monitor.judge(offsets(5, 13), 3.0).status is LagStatus.STALL
    assert monitor.judge(offsets(13, 13), 4.0).status is LagStatus.OK


def _group(status: LagStatus, total: int = 0) -> GroupLag:
    return GroupLag("g", status, total_lag=total)


def test_alerts_when_a_group_leaves_ok_comes_back_or_passes_the_threshold() -> None:
    left = lag_alert(_group(LagStatus.OK), _group(LagStatus.STALL, 5), 100)
    assert left is not None and left.severity is AlertSeverity.CRITICAL
    assert (left.state, left.previous_state, left.subject) == ("STALL", "OK", "g")
    back = lag_alert(_group(LagStatus.STALL), _group(LagStatus.OK), 100)
    assert back is not None and back.severity is AlertSeverity.INFO
    passed = lag_alert(_group(LagStatus.OK, 90), _group(LagStatus.OK, 150), 100)
    assert passed is not None and "passed 100" in passed.message
    assert lag_alert(_group(LagStatus.OK, 150), _group(LagStatus.OK, 160), 100) is None
    assert lag_alert(_group(LagStatus.STALL), _group(LagStatus.STOP), 100) is None
    assert lag_alert(None, _group(LagStatus.NOTFOUND), 100) is None


def test_a_partition_not_read_is_unknown_adds_no_sample_and_the_group_is_not_ok() -> None:
    monitor = LagMonitor(load_settings(lag_window=3))
    monitor.judge(offsets(5, 5), 0.0)
    read = GroupOffsets("g", "Stable", 1, {TP: 5, TP1: 7}, {TP: 9}, {TP1: "end offset not read"})
    group = monitor.judge(read, 1.0)
    assert group.status is LagStatus.UNKNOWN
    assert (group.total_lag, group.max_lag) == (None, None)
    known, unknown = group.partitions
    assert (known.lag, known.status) == (4, LagStatus.OK)
    assert (unknown.committed, unknown.end_offset, unknown.lag) == (7, None, None)
    assert (unknown.status, unknown.reason) == (LagStatus.UNKNOWN, "end offset not read")
    assert ("g", "items.raw", 1) not in monitor.windows
    described = group_dict(group)
    assert described["unknown"] == 1 and described["total_lag"] is None
    assert described["partitions"][1]["lag"] is None
    assert described["partitions"][1]["reason"] == "end offset not read"


def test_a_group_turning_unknown_is_alerted_and_back_to_ok_too() -> None:
    monitor = LagMonitor(load_settings(lag_window=3))
    read = GroupOffsets("g", "Stable", 1, {TP: 5}, {}, {TP: "topic not on the broker"})
    unknown = monitor.judge(read, 1.0)
    alert = lag_alert(_group(LagStatus.OK), unknown, 100)
    assert alert is not None and alert.severity is AlertSeverity.WARNING
    assert (alert.state, alert.previous_state) == ("UNKNOWN", "OK")
    assert "topic not on the broker" in alert.message and "total lag 0" not in alert.message
    back = lag_alert(unknown, monitor.judge(offsets(5, 5), 2.0), 100)
    assert back is not None and back.state == "OK"
