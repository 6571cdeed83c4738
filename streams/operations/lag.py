"""Consumer lag judged by Burrow's rules: a window of offsets per partition, a status per group."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = [
    "GroupLag",
    "LagStatus",
    "OffsetSample",
    "PartitionLag",
    "PartitionWindow",
    "evaluate_group",
    "evaluate_window",
    "group_totals",
    "worst_status",
]


class LagStatus(enum.StrEnum):
    """Burrow's statuses, in its order of severity (a group's status is its worst partition),
    and UNKNOWN, not one of Burrow's: a partition whose committed or end offset could not be
    read (its lag is not known, so its group is not OK)."""

    NOTFOUND = "NOTFOUND"
    OK = "OK"
    UNKNOWN = "UNKNOWN"
    WARN = "WARN"
    ERR = "ERR"
    STOP = "STOP"
    STALL = "STALL"
    REWIND = "REWIND"

    @property
    def severity(self) -> int:
        """0 for NOTFOUND up to 7 for REWIND: Burrow's order, UNKNOWN just above OK."""
        return list(LagStatus).index(self)


@dataclass(frozen=True)
class OffsetSample:
    """A committed offset seen while its group was consuming, with the lag at that moment."""

    offset: int
    lag: int
    at: float
    """When it was seen, in epoch seconds."""


def evaluate_window(
    samples: Sequence[OffsetSample], current_lag: int, now: float, size: int
) -> LagStatus:
    """A partition's status from its window (oldest first), as Burrow's evaluator decides it.

    No lag now: OK. Then, as in Burrow's code, STOP comes first (no new sample for longer than
    the window spans; a problem even after a zero lag); then a zero lag in the window means OK;
    otherwise REWIND, then STALL and WARN, which need a full window of `size` samples.
    """
    if current_lag <= 0 or not samples:
        return LagStatus.OK
    if _stopped(samples, now):
        return LagStatus.STOP
    if any(sample.lag == 0 for sample in samples):
        return LagStatus.OK
    return _trouble(samples, size) or LagStatus.OK


def _trouble(samples: Sequence[OffsetSample], size: int) -> LagStatus | None:
    """REWIND, STALL or WARN, in that order, for a window that never saw zero lag."""
    full = len(samples) >= size
    if _rewound(samples):
        return LagStatus.REWIND
    if full and _stalled(samples):
        return LagStatus.STALL
    if full and _lag_not_decreasing(samples):
        return LagStatus.WARN
    return None


def _pairs(samples: Sequence[OffsetSample]) -> Iterable[tuple[OffsetSample, OffsetSample]]:
    return pairwise(samples)


def _stopped(samples: Sequence[OffsetSample], now: float) -> bool:
    """The time since the last sample is longer than the window's span."""
    if len(samples) < 2:
        return False
    return now - samples[-1].at > samples[-1].at - samples[0].at


def _rewound(samples: Sequence[OffsetSample]) -> bool:
    return any(later.offset < earlier.offset for earlier, later in _pairs(samples))


def _stalled(samples: Sequence[OffsetSample]) -> bool:
    return all(later.offset == earlier.offset for earlier, later in _pairs(samples))


def _lag_not_decreasing(samples: Sequence[OffsetSample]) -> bool:
    return all(later.lag >= earlier.lag for earlier, later in _pairs(samples))


class PartitionWindow:
    """The last `size` samples of one partition of one group."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.samples: deque[OffsetSample] = deque(maxlen=size)

    def add(self, sample: OffsetSample) -> None:
        """Append a sample; the oldest falls out once the window is full."""
        self.samples.append(sample)

    def status(self, current_lag: int, now: float) -> LagStatus:
        """The partition's status now."""
        return evaluate_window(list(self.samples), current_lag, now, self.size)


@dataclass(frozen=True)
class PartitionLag:
    """One partition of a group: offsets, lag (end minus committed) and status; an UNKNOWN one
    has no lag (None) and the reason why."""

    topic: str
    partition: int
    committed: int | None
    end_offset: int | None
    lag: int | None
    status: LagStatus
    reason: str | None = None

    @property
    def name(self) -> str:
        """`topic:partition`."""
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True)
class GroupLag:
    """A consumer group: its worst partition's status, total and max lag (None unless every
    partition's lag is known)."""

    group: str
    status: LagStatus
    partitions: tuple[PartitionLag, ...] = ()
    total_lag: int | None = None
    max_lag: int | None = None
    max_partition: str | None = None
    state: str = ""
    """The broker's group state (Stable, Empty, Dead, ...)."""
    members: int = 0
    sampled_at: float = 0.0

    @property
    def unknown(self) -> int:
        """How many partitions have an unknown lag."""
        return sum(p.lag is None for p in self.partitions)


def group_totals(lags: Sequence[int | None]) -> tuple[int | None, int | None]:
    """A group's total and max lag from its partitions' lags: None for both without
    partitions or when one is unknown (a sum over part of a group would read as less lag)."""
    known = [lag for lag in lags if lag is not None]
    if not lags or len(known) < len(lags):
        return None, None
    return sum(known), max(known)


def worst_status(statuses: Iterable[LagStatus]) -> LagStatus:
    """The most severe of these statuses (NOTFOUND for none)."""
    return max(statuses, key=lambda s: s.severity, default=LagStatus.NOTFOUND)


def evaluate_group(
    group: str,
    partitions: Sequence[PartitionLag],
    *,
    state: str = "",
    members: int = 0,
    sampled_at: float = 0.0,
) -> GroupLag:
    """The group's summary: NOTFOUND without partitions, else its worst partition's status."""
    total, biggest = group_totals([p.lag for p in partitions])
    largest = [p.name for p in partitions if biggest is not None and p.lag == biggest]
    return GroupLag(
        group,
        worst_status(p.status for p in partitions),
        tuple(partitions),
        total_lag=total,
        max_lag=biggest,
        max_partition=largest[0] if largest else None,
        state=state,
        members=members,
        sampled_at=sampled_at,
    )
