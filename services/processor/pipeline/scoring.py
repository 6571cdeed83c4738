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
  (see _Window.z_score); a trending topic stays trending while its window count rises.
- peaking: after trending, the count stopped rising but holds at least `peak_fraction` of
  the highest window count reached since the topic started trending.
- declining: after trending or peaking, the count fell below that share of the peak (and
  stays declining until it grows again); or no item in the last `fading_windows` windows.
- emerging: any other active topic: new, steady, or growing without a significant jump.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.processor.pipeline.config import PipelineConfig
from streams.records import TrendState

__all__ = ["Activity", "TrendPoint", "activity_series", "global_z", "heat", "trend_timeline"]

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
class _Window:
    """The numbers one state decision needs."""

    count: int
    mean: float
    std: float
    known: int
    """Baseline windows inside the known history (0: too early to judge a jump)."""
    velocity: float
    acceleration: float
    fading: bool
    """No item in the last `fading_windows` windows."""
    silent: bool
    """No item in the last `dormant_windows` windows."""

    @property
    def z_score(self) -> float:
        """The smaller of a Poisson z and a z over the baseline's own spread.

        The Poisson z is Anscombe's (variance-stabilised, honest in the tail for small
        counts), divided by sqrt(1 + 1/k) for the uncertainty of a mean taken from k windows:
        a baseline of few windows needs a larger jump. The spread z keeps an erratic baseline
        from trending on its ordinary swings.
        """
        stabilised = 2 * (math.sqrt(self.count + 0.375) - math.sqrt(self.mean + 0.375))
        poisson = stabilised / math.sqrt(1 + 1 / max(self.known, 1))
        return min(poisson, (self.count - self.mean) / self.std)


def activity_series(activity: Mapping[int, Activity], first: int, last: int) -> list[Activity]:
    """One Activity per bucket from `first` to `last` (inclusive), empty where none."""
    return [activity.get(index, Activity()) for index in range(first, last + 1)]


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


def _windows(counts: Sequence[int], config: PipelineConfig) -> list[_Window]:
    """The decision numbers at every bucket of a topic's known history."""
    width = config.window_buckets
    sums = _window_sums(np.asarray(counts, dtype=np.float64), width)
    mean, std, known = _baselines(sums, config)
    previous = np.nan_to_num(_shifted(sums, width))
    velocity = sums - previous
    acceleration = velocity - (previous - np.nan_to_num(_shifted(sums, 2 * width)))
    fading, silent = (
        _quiet(counts, windows * width)
        for windows in (config.fading_windows, config.dormant_windows)
    )
    return [
        _Window(
            int(sums[t]),
            mean[t],
            std[t],
            int(known[t]),
            velocity[t],
            acceleration[t],
            fading[t],
            silent[t],
        )
        for t in range(len(sums))
    ]


def _quiet(counts: Sequence[int], span: int) -> list[bool]:
    """At each bucket: the `span` buckets ending there (all inside the history) are empty."""
    sums = _window_sums(np.asarray(counts, dtype=np.float64), span)
    return [bool(total == 0 and t >= span - 1) for t, total in enumerate(sums)]


def _bursting(window: _Window, config: PipelineConfig) -> bool:
    return (
        window.known >= config.min_baseline_windows
        and window.count >= config.trending_min_count
        and window.count >= config.trending_ratio * max(window.mean, config.prior_rate)
        and window.z_score >= config.trending_z
    )


def _next_state(
    window: _Window, previous: TrendState | None, peak: int, config: PipelineConfig
) -> TrendState:
    if window.silent:
        return TrendState.DORMANT
    if _bursting(window, config):
        return TrendState.TRENDING
    rising = window.velocity > 0 and window.count >= config.trending_min_count
    if previous == TrendState.TRENDING and rising:
        return TrendState.TRENDING
    if previous in _HOT and window.count >= config.peak_fraction * peak:
        return TrendState.PEAKING
    if previous in (*_HOT, TrendState.DECLINING) and window.velocity <= 0:
        return TrendState.DECLINING
    return TrendState.DECLINING if window.fading else TrendState.EMERGING


def trend_timeline(
    counts: Sequence[int], config: PipelineConfig, watched_before: int = 0
) -> list[TrendPoint]:
    """The trend at the end of every bucket of a topic's history (counts per bucket).

    `watched_before` is how many buckets the pipeline watched before the topic's first one:
    known silence, which makes a sudden topic a jump from nothing. Without it, the first
    window only sets the baseline (a story already running when watching began is no burst).
    """
    span = config.window_buckets * (config.baseline_windows + 1)
    lead = min(watched_before, span)
    points: list[TrendPoint] = []
    state: TrendState | None = None
    peak = 0
    for window in _windows([0] * lead + list(counts), config)[lead:]:
        new_state = _next_state(window, state, peak, config)
        peak = _peak(new_state, state, peak, window.count)
        state = new_state
        points.append(
            TrendPoint(
                state,
                window.count,
                float(window.mean),
                float(window.velocity),
                float(window.acceleration),
                float(window.z_score),
                peak,
            )
        )
    return points


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
