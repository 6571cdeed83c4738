"""The trends of the counted topics: recomputed when they can move, ranked by score."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

import numpy as np

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.memory import CountedTopics
from services.processor.pipeline.results import TrendSnapshot
from services.processor.pipeline.scoring import (
    TrendMemo,
    TrendPoint,
    activity_series,
    advance_trend,
    bucket_counts,
    global_z,
    heat,
    latest_trend,
    memo_of,
)
from services.processor.pipeline.topic import TopicState, bucket_of
from streams.messages.records import TrendState

__all__ = ["TrendBook"]

_STEPPED_HISTORY = 12
"""Buckets of history up to which a topic without a memo is stepped through rather than
computed as arrays (stepping costs per bucket, the arrays a fixed overhead)."""


class TrendBook:
    """The latest trend of each counted topic, and the ranks of the highest scores.

    A trend only moves when its topic gets items or the clock enters a new bucket, so a
    batch recomputes the touched topics, and all of them (but those dormant and untouched:
    they stay dormant at score 0) when the clock moved to a new bucket.
    """

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.latest: dict[str, TrendSnapshot] = {}
        """The last trend computed for each counted topic (previous states and scores)."""
        self.ranks: dict[str, int] = {}
        """The rank of each of the `ranked_topics` highest scores (1: highest)."""
        self._memos: dict[str, TrendMemo] = {}
        """Each topic's state machine at its last closed bucket (see scoring.advance_trend)."""
        self._scores = _Scores()
        """The latest score of every topic in `latest`, for ranking."""
        self._floor = -math.inf
        """The lowest ranked score once `ranked_topics` are ranked (-inf before)."""
        self._evaluated: tuple[int, datetime | None] | None = None
        """(bucket of now, started) when every counted topic's trend was last computed."""

    def forget(self, topic_ids: Iterable[str]) -> None:
        """Drop topics that left (expired or merged)."""
        for topic_id in topic_ids:
            self.latest.pop(topic_id, None)
            self._memos.pop(topic_id, None)
            self._scores.remove(topic_id)

    def recompute(
        self,
        topics: CountedTopics,
        touched: set[str],
        now: datetime | None,
        started: datetime | None,
    ) -> list[TrendSnapshot]:
        """The trends that can have moved in this batch, highest score first."""
        if now is None:
            return []
        clock = (bucket_of(now, self.config), started)
        if clock != self._evaluated:
            self._evaluated = clock
            due = [t for t in topics.counted() if t.topic_id in touched or self._live(t)]
        else:
            due = topics.counted_of(touched)
        trends = self.of(topics, due, now, started)
        self.latest.update((trend.topic_id, trend) for trend in trends)
        return trends

    def _live(self, topic: TopicState) -> bool:
        latest = self.latest.get(topic.topic_id)
        return latest is None or latest.state != TrendState.DORMANT

    def of(
        self,
        topics: CountedTopics,
        of: list[TopicState],
        now: datetime | None,
        started: datetime | None,
    ) -> list[TrendSnapshot]:
        """The trends of these topics (`of`, among `topics`) at `now`, highest score first
        (nothing is kept)."""
        if now is None or not of:
            return []
        now_bucket = bucket_of(now, self.config)
        rate = self._global_rate(topics, now_bucket)
        trends = [
            self._trend(topics, topic, now_bucket, rate, now=now, started=started) for topic in of
        ]
        return sorted(trends, key=lambda trend: (-trend.score, trend.topic_id))

    def rerank(self, trends: list[TrendSnapshot]) -> dict[str, int | None]:
        """Ranks of the recomputed trends and of the other topics whose rank moved (None:
        no longer among the `ranked_topics` highest)."""
        listed = {trend.topic_id for trend in trends}
        for trend in trends:
            self._scores.set(trend.topic_id, trend.score)
        if self._ranks_hold(trends, listed):
            return dict.fromkeys(listed)
        top = self._scores.highest(self.config.ranked_topics)
        ranks = {topic_id: rank for rank, (topic_id, _) in enumerate(top, start=1)}
        moved: dict[str, int | None] = {
            topic_id: rank
            for topic_id, rank in ranks.items()
            if topic_id in listed or self.ranks.get(topic_id) != rank
        }
        moved.update({t: None for t in self.ranks.keys() - ranks.keys() if t in self.latest})
        moved.update({t: None for t in listed - ranks.keys()})
        self.ranks = ranks
        full = len(ranks) == self.config.ranked_topics
        self._floor = top[-1][1] if full else -math.inf
        return moved

    def _ranks_hold(self, trends: list[TrendSnapshot], listed: set[str]) -> bool:
        """True when no recomputed trend can enter or move the ranked set: none of them is
        ranked, all score below the lowest ranked score, and no ranked topic left."""
        if listed & self.ranks.keys() or any(trend.score >= self._floor for trend in trends):
            return False
        return all(topic_id in self.latest for topic_id in self.ranks)

    def _global_rate(self, topics: CountedTopics, now_bucket: int) -> float:
        """Mean items per window per counted topic over the baseline span."""
        span = self.config.window_buckets * self.config.baseline_windows
        activity = topics.counted_activity
        total = sum(activity.get(b, 0) for b in range(now_bucket - span + 1, now_bucket + 1))
        counted = topics.counted_size()
        return total / (counted * self.config.baseline_windows) if counted else 0.0

    def _point(
        self, topics: CountedTopics, topic: TopicState, now_bucket: int, started: datetime | None
    ) -> TrendPoint:
        """The topic's trend at `now_bucket`: continued from its memo when the memo still
        holds (its history unchanged up to there), else computed over the whole history."""
        config = self.config
        first = bucket_of(topic.created_at, config)
        watched = first - bucket_of(started or topic.created_at, config)
        lead = min(watched, config.window_buckets * (config.baseline_windows + 1))
        memo = self._memos.get(topic.topic_id)
        stale = topics.take_stale(topic.topic_id)
        if memo is not None and not _holds(memo, first, lead, stale):
            memo = None
        if memo is None and now_bucket - first < _STEPPED_HISTORY:  # a young topic: step it
            memo = TrendMemo(first - 1, first, lead, None, 0)
        if memo is not None and memo.bucket < now_bucket:
            activity = topic.activity

            def count(bucket: int) -> int:
                found = activity.get(bucket)
                return found.count if found is not None else 0

            point, self._memos[topic.topic_id] = advance_trend(
                count, first=first, lead=lead, memo=memo, now=now_bucket, config=config
            )
            return point
        counts = bucket_counts(topic.activity, first, now_bucket)
        memo = memo_of(counts, first, lead, config, watched)
        if memo is None:
            self._memos.pop(topic.topic_id, None)
        else:
            self._memos[topic.topic_id] = memo
        return latest_trend(counts, config, watched)

    def _trend(
        self,
        topics: CountedTopics,
        topic: TopicState,
        now_bucket: int,
        rate: float,
        *,
        now: datetime,
        started: datetime | None,
    ) -> TrendSnapshot:
        config = self.config
        first = bucket_of(topic.created_at, config)
        point = self._point(topics, topic, now_bucket, started)
        window_start = max(first, now_bucket - config.window_buckets + 1)
        window = activity_series(topic.activity, window_start, now_bucket)
        previous = self.latest.get(topic.topic_id)
        return TrendSnapshot(
            topic_id=topic.topic_id,
            label=topic.label,
            keywords=tuple(topic.keywords),
            state=point.state,
            previous_state=previous.state if previous else None,
            score=heat(window, config) * (1 + max(point.z_score, 0.0)),
            window_count=point.count,
            velocity=point.velocity,
            acceleration=point.acceleration,
            z_score=point.z_score,
            z_global=global_z(point.count, rate, config),
            item_count=topic.size,
            at=now,
        )


class _Scores:
    """Scores by topic in one array, so the highest come from one partial sort."""

    def __init__(self) -> None:
        self.values = np.full(1024, -np.inf)
        self.ids: list[str | None] = [None] * 1024
        self.rows: dict[str, int] = {}
        self._free: list[int] = []

    def set(self, topic_id: str, score: float) -> None:
        row = self.rows.get(topic_id)
        if row is None:
            row = self._free.pop() if self._free else len(self.rows)
            if row >= len(self.ids):
                self.values = np.concatenate([self.values, np.full(len(self.ids), -np.inf)])
                self.ids.extend([None] * len(self.ids))
            self.rows[topic_id], self.ids[row] = row, topic_id
        self.values[row] = score

    def remove(self, topic_id: str) -> None:
        row = self.rows.pop(topic_id, None)
        if row is not None:
            self.values[row], self.ids[row] = -np.inf, None
            self._free.append(row)

    def highest(self, count: int) -> list[tuple[str, float]]:
        """The `count` highest (topic id, score), highest first (ties by topic id)."""
        used = len(self.rows) + len(self._free)
        values = self.values[:used]
        keep = min(count, len(self.rows))
        if keep <= 0:
            return []
        top = np.argpartition(-values, keep - 1)[:keep] if keep < used else np.arange(used)
        pairs = [(self.ids[i], float(values[i])) for i in top]
        ranked = sorted(((t, v) for t, v in pairs if t is not None), key=lambda p: (-p[1], p[0]))
        return ranked[:keep]


def _holds(memo: TrendMemo, first: int, lead: int, stale: int | None) -> bool:
    """Whether a memo still describes the topic: same start, nothing changed up to it."""
    return (memo.first, memo.lead) == (first, lead) and (stale is None or stale > memo.bucket)
