"""Burrow's rules on synthetic windows: OK, WARN, STALL, STOP, REWIND; a group's worst status."""

from __future__ import annotations

import pytest

from streams.operations.lag import (
    LagStatus,
    OffsetSample,
    PartitionLag,
    PartitionWindow,
    evaluate_group,
    evaluate_window,
)

SIZE = 5


def window(*points: tuple[int, int], step: float = 10.0) -> list[OffsetSample]:
    """Samples `step` seconds apart from t=0, each (offset, lag)."""
    return [OffsetSample(offset, lag, index * step) for index, (offset, lag) in enumerate(points)]


def last_at(samples: list[OffsetSample]) -> float:
    return samples[-1].at


@pytest.mark.parametrize(
    ("points", "status"),
    [
        ([(10, 5), (20, 4), (30, 3), (40, 2), (50, 1)], LagStatus.OK),
        ([(10, 5), (20, 0), (20, 3), (20, 6), (20, 9)], LagStatus.OK),
        ([(10, 5), (20, 6), (30, 7), (40, 8), (50, 9)], LagStatus.WARN),
        ([(10, 5), (20, 5), (30, 5), (40, 5), (50, 5)], LagStatus.WARN),
        ([(10, 5), (10, 6), (10, 7), (10, 8), (10, 9)], LagStatus.STALL),
        ([(10, 5), (20, 4), (5, 9), (15, 8), (25, 7)], LagStatus.REWIND),
    ],
    ids=["catching-up", "zero-lag-seen", "falling-behind", "lag-flat", "stalled", "rewound"],
)
def test_each_rule_on_a_full_window(points: list[tuple[int, int]], status: LagStatus) -> None:
    samples = window(*points)
    assert evaluate_window(samples, samples[-1].lag, last_at(samples), SIZE) is status


def test_no_lag_now_is_always_ok() -> None:
    samples = window((10, 5), (10, 6), (10, 7), (10, 8), (10, 9))
    assert evaluate_window(samples, 0, 1000.0, SIZE) is LagStatus.OK


def test_stop_when_no_sample_came_for_longer_than_the_window_spans() -> None:
    samples = window((10, 5), (20, 0), (30, 2))  # spans 20 s
    assert evaluate_window(samples, 2, last_at(samples) + 20.0, SIZE) is LagStatus.OK
    assert evaluate_window(samples, 2, last_at(samples) + 20.5, SIZE) is LagStatus.STOP


def test_stall_and_warn_wait_for_a_full_window() -> None:
    stalled = window((10, 5), (10, 6), (10, 7))
    assert evaluate_window(stalled, 7, last_at(stalled), SIZE) is LagStatus.OK
    assert evaluate_window(stalled, 7, last_at(stalled), 3) is LagStatus.STALL


def test_the_window_keeps_the_last_samples_only() -> None:
    partition = PartitionWindow(3)
    for sample in window((10, 0), (10, 4), (10, 5), (10, 6)):
        partition.add(sample)
    assert [s.lag for s in partition.samples] == [4, 5, 6]
    assert partition.status(6, 30.0) is LagStatus.STALL


def _partition(number: int, lag: int, status: LagStatus) -> PartitionLag:
    return PartitionLag("items.raw", number, 100, 100 + lag, lag, status)


def test_a_group_takes_its_worst_partition_and_sums_its_lag() -> None:
    group = evaluate_group(
        "g",
        [
            _partition(0, 7, LagStatus.OK),
            _partition(1, 3, LagStatus.STALL),
            _partition(2, 1, LagStatus.WARN),
        ],
    )
    assert (group.status, group.total_lag, group.max_lag) == (LagStatus.STALL, 11, 7)
    assert group.max_partition == "items.raw:0"


def test_a_group_without_partitions_is_not_found() -> None:
    assert evaluate_group("g", []).status is LagStatus.NOTFOUND


def test_severity_follows_burrow() -> None:
    order = [LagStatus.OK, LagStatus.WARN, LagStatus.ERR, LagStatus.STOP, LagStatus.STALL]
    assert [s.severity for s in order] == sorted(s.severity for s in order)
    assert LagStatus.REWIND.severity == max(s.severity for s in LagStatus)
