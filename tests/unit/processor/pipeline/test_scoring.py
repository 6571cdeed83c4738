"""Trend scoring on synthetic hourly series: bursts trend quickly, steady stories never do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.scoring import (
    Activity,
    TrendMemo,
    activity_series,
    advance_trend,
    global_z,
    heat,
    latest_trend,
    memo_of,
    trend_timeline,
)
from streams.messages.records import TrendState

CONFIG = PipelineConfig()
WINDOW = CONFIG.window_buckets
DAY = 24


def _states(counts: list[int], watched_before: int = 0) -> list[TrendState]:
    return [point.state for point in trend_timeline(counts, CONFIG, watched_before)]


def _poisson(rate_per_window: float, hours: int, seed: int) -> list[int]:
    counts = np.random.default_rng(seed).poisson(rate_per_window / WINDOW, size=hours)
    return [int(count) for count in counts]


def _steady(rate_per_window: float, hours: int, rng: np.random.Generator) -> list[int]:
    """Items at a regular pace, each arriving up to two hours early or late."""
    counts = [0] * hours
    gap = WINDOW / rate_per_window
    for slot in np.arange(0, hours, gap):
        hour = int(np.clip(round(slot + rng.uniform(-2, 2)), 0, hours - 1))
        counts[hour] += 1
    return counts


def _spread(per_window: float, hours: int) -> list[int]:
    """`per_window` items every window, as evenly spread over the hours as whole items allow."""
    cumulative = np.floor(np.arange(hours + 1) * per_window / WINDOW)
    return [int(count) for count in np.diff(cumulative)]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("baseline", [1.0, 2.0, 3.0])
def test_a_tenfold_jump_trends_within_two_windows(seed: int, baseline: float) -> None:
    before = [1, *_poisson(baseline, 3 * DAY - 1, seed)]
    states = _states(before + _spread(10 * baseline, 2 * WINDOW))
    assert TrendState.TRENDING not in states[: len(before)]
    assert TrendState.TRENDING in states[len(before) :]


def test_a_story_breaking_out_of_silence_trends_within_two_windows() -> None:
    assert TrendState.TRENDING in _states(_spread(10, 2 * WINDOW), watched_before=2 * DAY)


def test_a_story_already_running_when_watching_began_sets_its_baseline_first() -> None:
    states = _states(_spread(10, 3 * WINDOW), watched_before=0)
    assert TrendState.TRENDING not in states


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0, 3.0, 5.0])
def test_a_steady_story_never_trends(seed: int, rate: float) -> None:
    counts = _steady(rate, 7 * DAY, np.random.default_rng(seed))
    assert TrendState.TRENDING not in _states(counts)


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0, 3.0, 5.0])
def test_chance_alone_rarely_trends(rate: float) -> None:
    """Even pure Poisson arrivals (burstier than real steady stories) seldom trend: in at
    most 5 % of simulated weeks, once a two-day baseline exists."""
    weeks = [[1, *_poisson(rate, 7 * DAY - 1, seed)] for seed in range(100)]
    trending = sum(TrendState.TRENDING in _states(week) for week in weeks)
    assert trending <= 5


def test_a_burst_peaks_declines_and_goes_dormant() -> None:
    quiet, burst = [1, 0, 0, 0, 0, 0] * 8, [2] * WINDOW + [1] * WINDOW
    tail = [0, 0, 0, 0, 1, 0] * 2 + [0] * 5 * WINDOW
    states = _states(quiet + burst + tail)
    first = {state: states.index(state) for state in TrendState if state in states}
    assert first[TrendState.EMERGING] == 0
    order = [TrendState.TRENDING, TrendState.PEAKING, TrendState.DECLINING, TrendState.DORMANT]
    assert [first[state] for state in order] == sorted(first[state] for state in order)
    assert states[-1] == TrendState.DORMANT


def test_a_quiet_topic_declines_then_goes_dormant() -> None:
    states = _states([1, 1, 0, 0] + [0] * 4 * WINDOW)
    assert states[0] == TrendState.EMERGING
    assert states[2 * WINDOW] == TrendState.EMERGING
    assert states[2 * WINDOW + 1] == TrendState.DECLINING
    assert states[-1] == TrendState.DORMANT


def test_velocity_and_acceleration_compare_consecutive_windows() -> None:
    point = trend_timeline([1] * WINDOW + [2] * WINDOW + [4] * WINDOW, CONFIG)[-1]
    assert (point.count, point.velocity, point.acceleration) == (4 * WINDOW, 12.0, 6.0)


def test_items_without_engagement_count_by_volume() -> None:
    rss = [Activity(count=3)]
    assert heat(rss, CONFIG) == 3.0
    assert heat([Activity(count=3, score=300, comments=30)], CONFIG) > heat(rss, CONFIG)
    assert heat([Activity()], CONFIG) == 0.0


def test_activity_series_fills_empty_buckets() -> None:
    series = activity_series({10: Activity(2), 12: Activity(1)}, 10, 13)
    assert [activity.count for activity in series] == [2, 0, 1, 0]


def test_global_z_compares_with_the_typical_topic() -> None:
    assert global_z(9, 4.0, CONFIG) == pytest.approx(2.5)
    assert global_z(1, 0.0, CONFIG) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_the_latest_trend_is_the_timeline_s_last_point(seed: int) -> None:
    counts = _poisson(2.0, 4 * DAY, seed) + _spread(20, WINDOW)
    assert latest_trend(counts, CONFIG, 30) == trend_timeline(counts, CONFIG, 30)[-1]


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(st.integers(0, 30), min_size=2, max_size=160),
    watched=st.integers(0, 80),
    data=st.data(),
)
def test_a_trend_continued_from_its_memo_is_that_of_the_whole_history(
    counts: list[int], watched: int, data: st.DataObject
) -> None:
    first = 1000
    lead = min(watched, CONFIG.window_buckets * (CONFIG.baseline_windows + 1))
    cut = data.draw(st.integers(2, len(counts)))
    memo = memo_of(counts[:cut], first, lead, CONFIG, watched)
    assert memo is not None
    point, _ = advance_trend(
        lambda bucket: counts[bucket - first] if 0 <= bucket - first < len(counts) else 0,
        first=first,
        lead=lead,
        memo=memo,
        now=first + len(counts) - 1,
        config=CONFIG,
    )
    whole = latest_trend(counts, CONFIG, watched)
    assert (point.state, point.count, point.peak) == (whole.state, whole.count, whole.peak)
    for name in ("baseline", "velocity", "acceleration", "z_score"):
        assert getattr(point, name) == pytest.approx(getattr(whole, name), abs=1e-9), name


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 30), min_size=1, max_size=40), watched=st.integers(0, 80))
def test_a_trend_stepped_from_its_first_bucket_is_that_of_the_whole_history(
    counts: list[int], watched: int
) -> None:
    first = 500
    lead = min(watched, CONFIG.window_buckets * (CONFIG.baseline_windows + 1))
    point, _ = advance_trend(
        lambda bucket: counts[bucket - first] if 0 <= bucket - first < len(counts) else 0,
        first=first,
        lead=lead,
        memo=TrendMemo(first - 1, first, lead, None, 0),
        now=first + len(counts) - 1,
        config=CONFIG,
    )
    whole = latest_trend(counts, CONFIG, watched)
    assert (point.state, point.count, point.peak) == (whole.state, whole.count, whole.peak)
    assert point.z_score == pytest.approx(whole.z_score, abs=1e-9)
