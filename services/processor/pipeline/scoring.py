"""Trend scoring and the trend state machine, as pure functions over bucketed counts.

At every bucket a topic's *window count* is the number of its items in the scoring window
ending there (a sliding window of `window_hours`). Its *baseline* is the mean and standard
deviation of the `baseline_windows` whole windows before it, taken only from known history:
the topic's own, plus the silence the pipeline watched before the topic appeared. The
states, evaluated bucket by bucket:

- dormant: no item in the last `dormant_windows` windows.
- trending: with at least `min_baseline_windows` known baseline windows, the window holds
  at least `trending_min_count` items, at least `trending_ratio` times the baseline mean
  (floored at `prior_rate`), and its z-score over the baseline is at least `trending_z`
  (see _z_scores); a trending topic stays trending while its window count rises.
- peaking: after trending, the count stopped rising but holds at least `peak_fraction` of
  the highest window count reached since the topic started trending.
- declining: after trending or peaking, the count fell below that share of the peak (and
  stays declining until it grows again); or no item in the last `fading_windows` windows.
- emerging: any other active topic: new, steady, or growing without a significant jump.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.processor.pipeline.config import PipelineConfig
from streams.messages.records import TrendState

__all__ = [
    "Activity",
    "TrendMemo",
    "TrendPoint",
    "activity_series",
    "advance_trend",
    "bucket_counts",
    "global_z",
    "heat",
    "latest_trend",
    "memo_of",
    "trend_timeline",
]

_HOT = (TrendState.TRENDING, TrendState.PEAKING)


@dataclass
class Activity:
    """What happened to a topic in one bucket."""

    count: int = 0
    """Original items (duplicates are not counted again)."""
    score: int = 0
    """Sum of the items' scores (items without a score add nothing)."""
    comments: int = 0
    """Sum of the items' comment counts (items without comments add nothing)."""

    def add(self, other: Activity) -> None:
        """Fold another bucket's activity into this one."""
        self.count += other.count
        self.score += other.score
        self.comments += other.comments


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """A topic's trend at the end of one bucket."""

    state: TrendState
    count: int
    """Items in the scoring window ending at this bucket."""
    baseline: float
    """Mean window count over the baseline windows."""
    velocity: float
    """Change of the window count since the previous window (items per window)."""
    acceleration: float
    """Change of the velocity since the previous window."""
    z_score: float
    """Window count against the topic's own baseline, in standard deviations."""
    peak: int = 0
    """Highest window count since the topic last started trending (0 if it never did)."""


@dataclass(frozen=True, slots=True)
class _Windows:
    """The numbers the state decisions need, one array entry per bucket of a history."""

    count: npt.NDArray[np.float64]
    """Items in the scoring window ending at each bucket."""
    mean: npt.NDArray[np.float64]
    """Mean window count over the baseline windows."""
    velocity: npt.NDArray[np.float64]
    acceleration: npt.NDArray[np.float64]
    z_score: npt.NDArray[np.float64]
    """See _z_scores."""
    counts: list[int]
    """`count` as whole numbers, for the state machine."""
    settled: list[bool]
    """The window count did not grow since the previous window (velocity <= 0)."""
    bursting: list[bool]
    """Enough known baseline, items, ratio and z-score to trend (see the module docstring)."""
    rising: list[bool]
    """The window count grows and holds at least `trending_min_count` items."""
    fading: list[bool]
    """No item in the last `fading_windows` windows."""
    silent: list[bool]
    """No item in the last `dormant_windows` windows."""
    silent_until: list[int]
    """At each bucket, the first bucket from there on that is not silent (or the end)."""


def _z_scores(
    count: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    std: npt.NDArray[np.float64],
    known: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """The smaller of a Poisson z and a z over the baseline's own spread, at every bucket.

    The Poisson z is Anscombe's (variance-stabilised, honest in the tail for small
    counts), divided by sqrt(1 + 1/k) for the uncertainty of a mean taken from k windows:
    a baseline of few windows needs a larger jump. The spread z keeps an erratic baseline
    from trending on its ordinary swings.
    """
    stabilised = 2 * (np.sqrt(count + 0.375) - np.sqrt(mean + 0.375))
    poisson = stabilised / np.sqrt(1 + 1 / np.maximum(known, 1))
    return np.minimum(poisson, (count - mean) / std)


def activity_series(activity: Mapping[int, Activity], first: int, last: int) -> list[Activity]:
    """One Activity per bucket from `first` to `last` (inclusive), empty where none."""
    return [activity.get(index, Activity()) for index in range(first, last + 1)]


def bucket_counts(activity: Mapping[int, Activity], first: int, last: int) -> list[int]:
    """The item count of every bucket from `first` to `last` (inclusive), 0 where none."""
    counts = np.zeros(max(0, last - first + 1), dtype=np.int64)
    for index, bucket in activity.items():
        if first <= index <= last:
            counts[index - first] = bucket.count
    return [int(count) for count in counts]


def _shifted(values: npt.NDArray[np.float64], by: int) -> npt.NDArray[np.float64]:
    """values[t - by] at t, NaN where t - by < 0 (before the topic's history)."""
    shifted = np.full(len(values), np.nan)
    if by < len(values):
        shifted[by:] = values[: len(values) - by]
    return shifted


def _window_sums(counts: npt.NDArray[np.float64], width: int) -> npt.NDArray[np.float64]:
    """sums[t] = counts over the `width` buckets ending at t (buckets before 0 are empty)."""
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    starts = np.maximum(np.arange(len(counts)) + 1 - width, 0)
    return cumulative[1:] - cumulative[starts]


def _baselines(
    sums: npt.NDArray[np.float64], config: PipelineConfig
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Mean, floored std and number of the whole windows before the one ending at t."""
    width = config.window_buckets
    whole = np.where(np.arange(len(sums)) >= width - 1, sums, np.nan)
    history = np.stack([_shifted(whole, k * width) for k in range(1, config.baseline_windows + 1)])
    known = (~np.isnan(history)).sum(axis=0)
    filled = np.nan_to_num(history)
    mean = np.where(known > 0, filled.sum(axis=0) / np.maximum(known, 1), config.prior_rate)
    spread = np.sqrt(np.maximum((filled**2).sum(axis=0) / np.maximum(known, 1) - mean**2, 0.0))
    floor = np.sqrt(np.maximum(mean, config.prior_rate))
    return mean, np.maximum(np.where(known > 0, spread, 0.0), floor), known


def _windows(counts: Sequence[int], config: PipelineConfig) -> _Windows:
    """The decision numbers at every bucket of a topic's known history, as arrays."""
    width = config.window_buckets
    values = np.asarray(counts, dtype=np.float64)
    sums = _window_sums(values, width)
    mean, std, known = _baselines(sums, config)
    previous = np.nan_to_num(_shifted(sums, width))
    velocity = sums - previous
    acceleration = velocity - (previous - np.nan_to_num(_shifted(sums, 2 * width)))
    z_score = _z_scores(sums, mean, std, known)
    bursting = (
        (known >= config.min_baseline_windows)
        & (sums >= config.trending_min_count)
        & (sums >= config.trending_ratio * np.maximum(mean, config.prior_rate))
        & (z_score >= config.trending_z)
    )
    rising = (velocity > 0) & (sums >= config.trending_min_count)
    fading, silent = (
        _quiet(values, windows * width)
        for windows in (config.fading_windows, config.dormant_windows)
    )
    return _Windows(
        count=sums,
        mean=mean,
        velocity=velocity,
        acceleration=acceleration,
        z_score=z_score,
        counts=sums.astype(np.int64).tolist(),
        settled=(velocity <= 0).tolist(),
        bursting=bursting.tolist(),
        rising=rising.tolist(),
        fading=fading,
        silent=silent,
        silent_until=_run_ends(silent),
    )


def _run_ends(flags: list[bool]) -> list[int]:
    """At each index, the first index from there on whose flag is False (len(flags) if none)."""
    indexes = np.arange(len(flags))
    loud = np.where(np.asarray(flags, dtype=bool), len(flags), indexes)
    return np.minimum.accumulate(loud[::-1])[::-1].tolist()


def _quiet(counts: npt.NDArray[np.float64], span: int) -> list[bool]:
    """At each bucket: the `span` buckets ending there (all inside the history) are empty."""
    sums = _window_sums(counts, span)
    return ((sums == 0) & (np.arange(len(sums)) >= span - 1)).tolist()


def _next_state(
    windows: _Windows,
    t: int,
    previous: TrendState | None,
    peak: int,
    config: PipelineConfig,
) -> TrendState:
    if windows.silent[t]:
        return TrendState.DORMANT
    if windows.bursting[t]:
        return TrendState.TRENDING
    if previous == TrendState.TRENDING and windows.rising[t]:
        return TrendState.TRENDING
    if previous in _HOT and windows.counts[t] >= config.peak_fraction * peak:
        return TrendState.PEAKING
    if previous in (*_HOT, TrendState.DECLINING) and windows.settled[t]:
        return TrendState.DECLINING
    return TrendState.DECLINING if windows.fading[t] else TrendState.EMERGING


def _decided(
    counts: Sequence[int], config: PipelineConfig, watched_before: int
) -> tuple[_Windows, int, list[tuple[TrendState, int]]]:
    """The windows (with the lead of watched silence), the lead, and (state, peak) per bucket."""
    span = config.window_buckets * (config.baseline_windows + 1)
    lead = min(watched_before, span)
    windows = _windows([0] * lead + list(counts), config)
    decided: list[tuple[TrendState, int]] = []
    state: TrendState | None = None
    peak, t = 0, lead
    while t < len(windows.counts):
        if windows.silent[t]:  # dormant all along a silent run, the peak kept
            end = windows.silent_until[t]
            state = TrendState.DORMANT
            decided.extend([(state, peak)] * (end - t))
            t = end
            continue
        new_state = _next_state(windows, t, state, peak, config)
        peak = _peak(new_state, state, peak, windows.counts[t])
        state = new_state
        decided.append((state, peak))
        t += 1
    return windows, lead, decided


def _point(windows: _Windows, t: int, state: TrendState, peak: int) -> TrendPoint:
    return TrendPoint(
        state,
        int(windows.count[t]),
        float(windows.mean[t]),
        float(windows.velocity[t]),
        float(windows.acceleration[t]),
        float(windows.z_score[t]),
        peak,
    )


def trend_timeline(
    counts: Sequence[int], config: PipelineConfig, watched_before: int = 0
) -> list[TrendPoint]:
    """The trend at the end of every bucket of a topic's history (counts per bucket).

    `watched_before` is how many buckets the pipeline watched before the topic's first one:
    known silence, which makes a sudden topic a jump from nothing. Without it, the first
    window only sets the baseline (a story already running when watching began is no burst).
    """
    windows, lead, decided = _decided(counts, config, watched_before)
    return [_point(windows, lead + i, state, peak) for i, (state, peak) in enumerate(decided)]


def latest_trend(
    counts: Sequence[int], config: PipelineConfig, watched_before: int = 0
) -> TrendPoint:
    """The trend at the end of the last bucket: trend_timeline(...)[-1], without the others.

    Raises IndexError for an empty history, as trend_timeline(...)[-1] does.
    """
    windows, _, decided = _decided(counts, config, watched_before)
    state, peak = decided[-1]
    return _point(windows, len(windows.count) - 1, state, peak)


def _peak(state: TrendState, previous: TrendState | None, peak: int, count: int) -> int:
    if state == TrendState.TRENDING and previous != TrendState.TRENDING:
        return count
    return max(peak, count) if state in _HOT else peak


def heat(window: Sequence[Activity], config: PipelineConfig) -> float:
    """Items in a window, each counting 1 plus `engagement_weight` x log(1 + engagement).

    Engagement is averaged per item from the window's sums; items without a score or
    comments (RSS) count by volume alone.
    """
    count = sum(a.count for a in window)
    engagement = sum(a.score + a.comments for a in window)
    if count == 0:
        return 0.0
    return count * (1 + config.engagement_weight * math.log1p(engagement / count))


def global_z(count: int, global_rate: float, config: PipelineConfig) -> float:
    """Window count against the mean window count of all active topics (Poisson z)."""
    rate = max(global_rate, config.prior_rate)
    return (count - rate) / math.sqrt(rate)


@dataclass(frozen=True, slots=True)
class TrendMemo:
    """Where a topic's state machine stood at the end of one closed bucket, to go on from.

    Valid while the topic's counts up to `bucket` stay as they were, with the same first
    bucket and lead of watched silence (see advance_trend).
    """

    bucket: int
    first: int
    lead: int
    state: TrendState | None
    peak: int


def advance_trend(
    counts: Callable[[int], int],
    *,
    first: int,
    lead: int,
    memo: TrendMemo,
    now: int,
    config: PipelineConfig,
) -> tuple[TrendPoint, TrendMemo]:
    """latest_trend at bucket `now`, continued from `memo` one bucket at a time (`counts`:
    the items of a bucket index, from `first`; `lead` buckets of watched silence before it).

    The same numbers as latest_trend(bucket_counts(...), config, lead), in plain arithmetic
    over the few buckets each step needs: a topic rescored every batch costs microseconds,
    whatever the length of its history. Returns the point and the memo at `now - 1`.
    """
    origin = first - lead
    state, peak = memo.state, memo.peak
    point: TrendPoint | None = None
    kept = memo
    for bucket in range(memo.bucket + 1, now + 1):
        step = _step(counts, origin, bucket - origin, config)
        new_state = _next_step_state(step, state, peak, config)
        peak = _peak(new_state, state, peak, step.counts[0])
        state = new_state
        point = _point(step, 0, new_state, peak)
        if bucket == now - 1:
            kept = TrendMemo(bucket, first, lead, state, peak)
    assert point is not None, "advance_trend needs now > memo.bucket"
    return point, kept


def memo_of(
    counts: Sequence[int], first: int, lead: int, config: PipelineConfig, watched_before: int
) -> TrendMemo | None:
    """The memo at the last-but-one bucket of a history latest_trend was given (None when
    the history has a single bucket)."""
    if len(counts) < 2:
        return None
    _, _, decided = _decided(counts, config, watched_before)
    state, peak = decided[-2]
    return TrendMemo(first + len(counts) - 2, first, lead, state, peak)


def _step(counts: Callable[[int], int], origin: int, t: int, config: PipelineConfig) -> _Windows:
    """The decision numbers at position `t` of a history starting at bucket `origin` (the
    lead of silence included), as one-element _Windows."""
    width = config.window_buckets

    def count(i: int) -> int:
        return counts(origin + i) if i >= 0 else 0

    def window(j: int, span: int = width) -> int:
        return sum(count(i) for i in range(max(0, j - span + 1), j + 1))

    total = window(t)
    history = [
        float(window(t - k * width))
        for k in range(1, config.baseline_windows + 1)
        if t - k * width >= width - 1
    ]
    known = len(history)
    mean = sum(history) / known if known else config.prior_rate
    spread = math.sqrt(max(sum(v * v for v in history) / known - mean**2, 0.0)) if known else 0.0
    std = max(spread, math.sqrt(max(mean, config.prior_rate)))
    previous = window(t - width) if t >= width else 0
    before = window(t - 2 * width) if t >= 2 * width else 0
    velocity = float(total - previous)
    acceleration = velocity - (previous - before)
    stabilised = 2 * (math.sqrt(total + 0.375) - math.sqrt(mean + 0.375))
    z_score = min(stabilised / math.sqrt(1 + 1 / max(known, 1)), (total - mean) / std)
    bursting = (
        known >= config.min_baseline_windows
        and total >= config.trending_min_count
        and total >= config.trending_ratio * max(mean, config.prior_rate)
        and z_score >= config.trending_z
    )
    fading = config.fading_windows * width
    silent = config.dormant_windows * width

    def one(value: float) -> npt.NDArray[np.float64]:
        return np.array([value], dtype=np.float64)

    return _Windows(
        count=one(total),
        mean=one(mean),
        velocity=one(velocity),
        acceleration=one(acceleration),
        z_score=one(z_score),
        counts=[total],
        settled=[velocity <= 0],
        bursting=[bursting],
        rising=[velocity > 0 and total >= config.trending_min_count],
        fading=[t >= fading - 1 and window(t, fading) == 0],
        silent=[t >= silent - 1 and window(t, silent) == 0],
        silent_until=[1],
    )


def _next_step_state(
    step: _Windows, previous: TrendState | None, peak: int, config: PipelineConfig
) -> TrendState:
    return _next_state(step, 0, previous, peak, config)
