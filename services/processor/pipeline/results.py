"""What a batch produced: each item's outcome, the topics and trends it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.processor.pipeline.cluster import TopicChanges
from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.normalize import DropReason
from streams.messages.records import TrendState, TrendUpdate

__all__ = [
    "BatchResult",
    "ItemOutcome",
    "StateChanges",
    "TopicSnapshot",
    "TrendSnapshot",
]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What the pipeline did with one item."""

    item_id: str
    dropped: DropReason | None = None
    """Why the item was dropped (then nothing else is set)."""
    duplicate_of: str | None = None
    """The original this item repeats (exactly or nearly); it joins the original's topic."""
    topic_id: str | None = None
    """The topic or candidate topic the item joined."""
    language: str | None = None
    at: datetime | None = None
    """The item's time (publication, else collection), for every item not dropped."""
    vector: Vectors | None = field(default=None, repr=False, compare=False)
    """The item's embedding, for every item embedded (not for exact duplicates)."""


@dataclass(frozen=True, slots=True)
class TopicSnapshot:
    """A topic as it stands after a batch."""

    topic_id: str
    label: str
    keywords: tuple[str, ...]
    size: int
    """Original members; duplicates are counted apart."""
    duplicates: int
    representative_id: str | None
    representative_title: str | None
    created_at: datetime
    last_active: datetime


@dataclass(frozen=True, slots=True)
class TrendSnapshot:
    """A topic's trend after a batch."""

    topic_id: str
    label: str
    keywords: tuple[str, ...]
    state: TrendState
    previous_state: TrendState | None
    """The state in this pipeline's previous snapshot of the topic (None the first time)."""
    score: float
    """Ranking score: the window's engagement-weighted volume times (1 + positive z-score)."""
    window_count: int
    velocity: float
    acceleration: float
    z_score: float
    z_global: float
    item_count: int
    at: datetime

    @property
    def changed(self) -> bool:
        """True when the state differs from the previous snapshot's."""
        return self.state != self.previous_state

    def to_update(self, rank: int | None = None) -> TrendUpdate:
        """The TrendUpdate message announcing this snapshot."""
        return TrendUpdate(
            topic_id=self.topic_id,
            label=self.label,
            state=self.state,
            score=self.score,
            previous_state=self.previous_state,
            rank=rank,
            velocity=self.velocity,
            acceleration=self.acceleration,
            z_score=self.z_score,
            item_count=self.item_count,
            keywords=list(self.keywords),
            updated_at=self.at,
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Everything one batch produced."""

    outcomes: list[ItemOutcome]
    topics: list[TopicSnapshot]
    """The counted topics (at least `min_topic_size` members) this batch changed, largest
    first."""
    trends: list[TrendSnapshot]
    """The trends recomputed in this batch, highest score first: those of the counted topics
    the batch touched (new members, duplicates, merges), and of every counted topic not left
    dormant when the pipeline's clock entered a new bucket. A trend not listed is unchanged
    (its state and score only move when the topic gets items or the clock enters a new
    bucket)."""
    merged: dict[str, str] = field(default_factory=dict)
    """Topics absorbed in this batch, mapped to the topic that absorbed them."""
    expired: list[str] = field(default_factory=list)
    """Candidates and idle topics forgotten in this batch."""
    revivals: dict[str, list[str]] = field(default_factory=dict)
    """New topics that may continue an archived one (new topic -> archived topics, closest
    first): their saved states are to be handed to ClusterStage.revive."""
    ranks: dict[str, int | None] = field(default_factory=dict)
    """The rank (1: highest score, among the `ranked_topics` highest) of each trend in
    `trends`, and of every other topic whose rank moved in this batch (None: no longer
    ranked). Empty: rank by position."""

    def followed_by(self, later: BatchResult) -> BatchResult:
        """This result and a later one of the same batch (a revival) as one."""
        newer = {topic.topic_id for topic in later.topics} | later.merged.keys()
        rescored = {trend.topic_id for trend in later.trends} | later.merged.keys()
        topics = later.topics + [t for t in self.topics if t.topic_id not in newer]
        trends = later.trends + [t for t in self.trends if t.topic_id not in rescored]
        return BatchResult(
            self.outcomes + later.outcomes,
            sorted(topics, key=lambda topic: (-topic.size, topic.created_at)),
            sorted(trends, key=lambda trend: (-trend.score, trend.topic_id)),
            {**self.merged, **later.merged},
            self.expired + later.expired,
            {},
            {**self.ranks, **later.ranks},
        )

    def rank_of(self, trend: TrendSnapshot, position: int) -> int | None:
        """A listed trend's rank (its 1-based `position` in `trends` when ranks are not set)."""
        return self.ranks.get(trend.topic_id, position)


@dataclass(frozen=True, slots=True)
class StateChanges:
    """The part of the pipeline state to save after a batch (see ClusterStage.state_changes)."""

    head: dict[str, Any]
    """The clock and the number of documents behind the entity counts (small; saved whole)."""
    topics: TopicChanges
    """The topics changed or removed since the last save."""
    entities: dict[str, int] = field(default_factory=dict)
    """The document frequency of each entity counted since the last save."""
