"""Burrow's rules on synthetic windows: OK, WARN, STALL, STOP, REWIND; a group's worst status;
a partition of unknown lag makes its group UNKNOWN and leaves its totals unknown."""

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


def test_a_group_without_partitions_is_not_found_and_has_no_lag() -> None:
    group = evaluate_group("g", [])
    assert (group.status, group.total_lag, group.max_lag) == (LagStatus.NOTFOUND, None, None)


def _unknown(number: int) -> PartitionLag:
    return PartitionLag("items.raw", number, None, None, None, LagStatus.UNKNOWN, "no end offset")


def test_a_partition_of_unknown_lag_makes_the_group_unknown_not_ok() -> None:
    group = evaluate_group("g", [_partition(0, 0, LagStatus.OK), _unknown(1)])
    assert group.status is LagStatus.UNKNOWN
    assert (group.total_lag, group.max_lag, group.max_partition) == (None, None, None)
    assert group.unknown == 1
    assert evaluate_group("g", [_unknown(0)]).total_lag is None


def test_a_known_trouble_outranks_unknown() -> None:
    group = evaluate_group("g", [_partition(0, 5, LagStatus.STALL), _unknown(1)])
    assert group.status is LagStatus.STALL and group.total_lag is None


def test_severity_follows_burrow_with_unknown_just_above_ok() -> None:
    order = [
        LagStatus.NOTFOUND,
        LagStatus.OK,
        LagStatus.UNKNOWN,
        LagStatus.WARN,
        LagStatus.ERR,
        LagStatus.STOP,
        LagStatus.STALL,
        LagStatus.REWIND,
    ]
    assert [s.severity for s in order] == list(range(len(LagStatus)))
