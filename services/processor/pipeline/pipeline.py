"""The trend pipeline in memory: normalize, dedupe, embed, cluster and score batches of items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from services.processor.pipeline.cluster import (
    Member,
    OnlineClusterer,
    TopicChanges,
    TopicState,
    bucket_of,
)
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.dedupe import BatchSearch, ExactDeduper, NearDuplicateIndex
from services.processor.pipeline.embed import (
    Embedder,
    Vectors,
    default_model_path,
    load_embedder,
)
from services.processor.pipeline.entities import EntityExtractor, EntityStats, load_vocabulary
from services.processor.pipeline.keywords import class_terms, label_of, top_terms
from services.processor.pipeline.normalize import Dropped, DropReason, NormalizedItem, normalize
from services.processor.pipeline.scoring import (
    activity_series,
    bucket_counts,
    global_z,
    heat,
    latest_trend,
)
from services.processor.pipeline.similarity import Evidence
from streams.records import RawItem, TrendState, TrendUpdate

__all__ = [
    "BatchResult",
    "ItemOutcome",
    "Pipeline",
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
    """Every topic that counts (at least `min_topic_size` members)."""
    trends: list[TrendSnapshot]
    """The trends recomputed in this batch, highest score first: those of the counted topics
    the batch touched (new members, duplicates, merges), and of every counted topic when the
    pipeline's clock entered a new bucket. A trend not listed is unchanged (its state and
    score only move when the topic gets items or the clock enters a new bucket)."""
    merged: dict[str, str] = field(default_factory=dict)
    """Topics absorbed in this batch, mapped to the topic that absorbed them."""
    expired: list[str] = field(default_factory=list)
    """Candidates and idle topics forgotten in this batch."""
    ranks: dict[str, int] = field(default_factory=dict)
    """The rank (1: highest score) among all counted topics of each trend in `trends`, and
    of every other counted topic whose rank moved in this batch. Empty: rank by position."""

    def rank_of(self, trend: TrendSnapshot, position: int) -> int:
        """A listed trend's rank (its 1-based `position` in `trends` when ranks are not set)."""
        return self.ranks.get(trend.topic_id, position)


@dataclass(frozen=True, slots=True)
class StateChanges:
    """The part of the pipeline state to save after a batch (see Pipeline.state_changes)."""

    head: dict[str, Any]
    """The clock, entity counts and word cases (small; saved whole)."""
    topics: TopicChanges
    """The topics changed or removed since the last save."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    item: NormalizedItem
    original: str | None
    vector: Vectors | None
    position: int = -1
    """The row of the batch's embeddings holding `vector` (-1 without one)."""


class Pipeline:
    """Runs the stages over batches of raw items in time order, keeping all state in memory.

    This is also the "test pipeline" mode: no database, no vector store; the processor's
    agents persist what the results describe.
    """

    def __init__(
        self, config: PipelineConfig | None = None, embedder: Embedder | None = None
    ) -> None:
        self.config = config or PipelineConfig()
        self.embedder = embedder or load_embedder(
            self.config.model_path, self.config.embed_batch_size
        )
        self.dropped: Counter[str] = Counter()
        self.duplicates = 0
        vocabulary = load_vocabulary(self._model_folder() / "vocab.txt")
        self.extractor = EntityExtractor(vocabulary, self.config.rare_terms)
        self.stats = EntityStats()
        self.clusterer = OnlineClusterer(self.config, self.stats)
        self.exact = ExactDeduper(self.config.near_duplicate_capacity)
        self.near = NearDuplicateIndex(
            self.embedder.dimension,
            self.config.near_duplicate_similarity,
            self.config.near_duplicate_min_entity_overlap,
            timedelta(hours=self.config.near_duplicate_window_hours),
            self.config.near_duplicate_capacity,
        )
        self.now: datetime | None = None
        """The latest item time seen: the pipeline's clock (event time, not wall time)."""
        self.started: datetime | None = None
        """The earliest item time seen: since then, the pipeline knows which topics were silent."""
        self._latest: dict[str, TrendSnapshot] = {}
        """The last trend computed for each counted topic (their previous states and scores)."""
        self._ranks: dict[str, int] = {}
        self._terms: dict[str, Counter[str]] = {}
        self._all_terms: Counter[str] = Counter()
        """The sum of `_terms` (c-TF-IDF's term frequencies over all counted topics)."""
        """Each counted topic's title terms, recounted only when its titles change."""
        self._evaluated: tuple[int, datetime | None] | None = None
        """(bucket of now, started) when every counted topic's trend was last computed."""

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of what the pipeline learnt: topics, entity counts, word cases.

        Duplicate indexes are not included: exact duplicates are caught again by the item
        store, and near-duplicates only look back `near_duplicate_window_hours` anyway.
        """
        return {**self._head(), "clusterer": self.clusterer.state()}

    def state_changes(self) -> StateChanges:
        """What changed in the state since the last acknowledged save (see state_saved): the
        clock, entity counts and word cases, and the topics changed or removed."""
        return StateChanges(self._head(), self.clusterer.changes())

    def state_saved(self, changes: StateChanges) -> None:
        """Acknowledge that `changes` were saved (a failed save keeps them pending)."""
        self.clusterer.saved(changes.topics)

    def _head(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat() if self.now else None,
            "started": self.started.isoformat() if self.started else None,
            "entity_stats": self.stats.state(),
            "word_cases": self.extractor.state(),
        }

    def restore(self, state: dict[str, Any], *, saved: bool = True) -> None:
        """Continue from a state saved by state() (or by state_changes(), reassembled); with
        `saved` False every topic is pending for the next state_changes()."""
        self.now = datetime.fromisoformat(state["now"]) if state["now"] else None
        self.started = datetime.fromisoformat(state["started"]) if state["started"] else None
        self.stats = EntityStats.restore(state["entity_stats"])
        self.clusterer = OnlineClusterer.restore(
            self.config, state["clusterer"], self.stats, saved=saved
        )
        self.extractor.restore(state["word_cases"])

    def _model_folder(self) -> Path:
        return Path(self.config.model_path) if self.config.model_path else default_model_path()

    def process(self, items: Sequence[RawItem]) -> BatchResult:
        """Run one batch through every stage; return outcomes and topic and trend snapshots."""
        prepared, outcomes, vectors = self._prepare(items)
        search = self.near.batch(vectors)
        placed = [self._place(entry, search) for entry in prepared]
        expired = self.clusterer.expire(self.now) if self.now else []
        touched = {o.topic_id for o in placed if o.topic_id}
        merged = self.clusterer.merge_converged(touched)
        touched = {merged.get(topic_id, topic_id) for topic_id in touched} | set(merged.values())
        self._refresh_labels(touched)
        trends = self._recompute(touched)
        ranks = self._rerank(trends)
        return BatchResult(outcomes + placed, self.topics(), trends, merged, expired, ranks)

    def _prepare(
        self, items: Sequence[RawItem]
    ) -> tuple[list[_Prepared], list[ItemOutcome], Vectors]:
        """Normalise, find exact duplicates and embed the originals, in time order."""
        normalized = [normalize(item, self.config.language_sample_chars) for item in items]
        dropped = [entry for entry in normalized if isinstance(entry, Dropped)]
        self.dropped.update(entry.reason.value for entry in dropped)
        kept = sorted((e for e in normalized if isinstance(e, NormalizedItem)), key=_time)
        originals = [self._exact_original(item) for item in kept]
        texts = [
            _embedding_text(i, self.config)
            for i, o in zip(kept, originals, strict=True)
            if o is None
        ]
        vectors = np.asarray(self.embedder.encode(texts), dtype=np.float32).reshape(
            len(texts), self.embedder.dimension
        )
        positions = iter(range(len(texts)))
        prepared = [
            _Prepared(item, original, None) if original else _embedded(item, vectors, positions)
            for item, original in zip(kept, originals, strict=True)
        ]
        dropped_outcomes = [ItemOutcome(entry.item_id, dropped=entry.reason) for entry in dropped]
        return prepared, dropped_outcomes, vectors

    def _exact_original(self, item: NormalizedItem) -> str | None:
        original = self.exact.original_of(item)
        self.exact.remember(item, original or item.item_id)
        return original

    def _place(self, entry: _Prepared, search: BatchSearch) -> ItemOutcome:
        """Attach a duplicate to its original's topic, or cluster an original."""
        item = entry.item
        self.now = max(self.now or item.at, item.at)
        self.started = min(self.started or item.at, item.at)
        if entry.original == item.item_id:  # a redelivery: already placed
            topic_id = self.clusterer.topic_of(item.item_id)
            return _outcome(item, duplicate_of=item.item_id, topic_id=topic_id)
        if entry.vector is None:
            return self._duplicate(item, entry.original or item.item_id, None)
        entities = self.stats.weights(self.extractor.extract(item.content))
        original = search.original_of(entry.position, item.at, entities)
        if original is not None:
            self.exact.remember(item, original)
            return self._duplicate(item, original, entry.vector)
        self.stats.observe(entities)
        search.add(entry.position, item.item_id, item.at, entities)
        evidence = Evidence(entry.vector, entities, item.at)
        member = Member(item.item_id, item.title, evidence, item.score, item.comments)
        return _outcome(item, topic_id=self.clusterer.assign(member), vector=entry.vector)

    def _duplicate(
        self, item: NormalizedItem, original: str, vector: Vectors | None
    ) -> ItemOutcome:
        self.duplicates += 1
        topic_id = self.clusterer.attach(item.item_id, original, item.at)
        return _outcome(item, duplicate_of=original, topic_id=topic_id, vector=vector)

    def topic_of(self, item_id: str) -> str | None:
        """The counted topic (at least `min_topic_size` members) an item belongs to, if any."""
        topic_id = self.clusterer.topic_of(item_id)
        topic = self.clusterer.topics.get(topic_id) if topic_id else None
        return topic_id if topic and topic.size >= self.config.min_topic_size else None

    def _refresh_labels(self, touched: set[str]) -> None:
        """Keywords, labels and representatives; only touched topics' titles are recounted."""
        topics = self.clusterer.counted()
        for topic_id in self._terms.keys() - {topic.topic_id for topic in topics}:
            self._count_terms(topic_id, None)
        for topic in topics:
            if topic.topic_id in touched or topic.topic_id not in self._terms:
                self._count_terms(topic.topic_id, class_terms(topic.titles.values()))
        keywords = top_terms(self._terms, self.config.keyword_count, self._all_terms)
        for topic in topics:
            before = (topic.keywords, topic.label, topic.representative_id)
            topic.keywords = keywords[topic.topic_id]
            topic.label = label_of(topic.keywords, self.config.label_keywords)
            if topic.topic_id in touched or topic.representative_id is None:
                topic.representative_id = _representative(topic)
            if (topic.keywords, topic.label, topic.representative_id) != before:
                self.clusterer.touch(topic.topic_id)

    def _count_terms(self, topic_id: str, terms: Counter[str] | None) -> None:
        """Replace a topic's title terms (None: forget them), keeping their sum in step."""
        previous = self._terms.pop(topic_id, None)
        if previous:
            self._all_terms.subtract(previous)
            for term in previous:
                if self._all_terms[term] <= 0:
                    del self._all_terms[term]
        if terms is not None:
            self._terms[topic_id] = terms
            self._all_terms.update(terms)

    def topics(self) -> list[TopicSnapshot]:
        """Every counted topic, largest first."""
        topics = sorted(self.clusterer.counted(), key=lambda t: (-t.size, t.created_at))
        return [_topic_snapshot(topic) for topic in topics]

    def trends(self) -> list[TrendSnapshot]:
        """The trend of every counted topic at the latest item's time, highest score first."""
        return self._trends_of(self.clusterer.counted())

    def _trends_of(self, topics: list[TopicState]) -> list[TrendSnapshot]:
        """The trends of these topics at the latest item's time, highest score first."""
        if self.now is None or not topics:
            return []
        now_bucket = bucket_of(self.now, self.config)
        rate = self._global_rate(self.clusterer.counted(), now_bucket)
        trends = [self._trend(topic, now_bucket, rate) for topic in topics]
        return sorted(trends, key=lambda trend: (-trend.score, trend.topic_id))

    def _recompute(self, touched: set[str]) -> list[TrendSnapshot]:
        """The trends of the touched counted topics, or of all when the clock entered a new
        bucket (or watching started earlier): only then can an untouched topic's trend move."""
        counted = self.clusterer.counted()
        self._latest = {
            t.topic_id: self._latest[t.topic_id] for t in counted if t.topic_id in self._latest
        }
        clock = (bucket_of(self.now, self.config), self.started) if self.now else None
        if clock != self._evaluated:
            self._evaluated = clock
        else:
            counted = [topic for topic in counted if topic.topic_id in touched]
        trends = self._trends_of(counted)
        self._latest.update((trend.topic_id, trend) for trend in trends)
        return trends

    def _rerank(self, trends: list[TrendSnapshot]) -> dict[str, int]:
        """Ranks of the recomputed trends, and of the other topics whose rank moved."""
        order = sorted(self._latest.values(), key=lambda trend: (-trend.score, trend.topic_id))
        ranks = {trend.topic_id: rank for rank, trend in enumerate(order, start=1)}
        listed = {trend.topic_id for trend in trends}
        moved = {
            topic_id: rank
            for topic_id, rank in ranks.items()
            if topic_id in listed or self._ranks.get(topic_id) != rank
        }
        self._ranks = ranks
        return moved

    def _global_rate(self, topics: list[TopicState], now_bucket: int) -> float:
        """Mean items per window per counted topic over the baseline span."""
        span = self.config.window_buckets * self.config.baseline_windows
        total = sum(a.count for t in topics for i, a in t.activity.items() if i > now_bucket - span)
        return total / (len(topics) * self.config.baseline_windows) if topics else 0.0

    def _trend(self, topic: TopicState, now_bucket: int, rate: float) -> TrendSnapshot:
        first = bucket_of(topic.created_at, self.config)
        counts = bucket_counts(topic.activity, first, now_bucket)
        watched = first - bucket_of(self.started or topic.created_at, self.config)
        point = latest_trend(counts, self.config, watched)
        window_start = max(first, now_bucket - self.config.window_buckets + 1)
        window = activity_series(topic.activity, window_start, now_bucket)
        previous = self._latest.get(topic.topic_id)
        return TrendSnapshot(
            topic_id=topic.topic_id,
            label=topic.label,
            keywords=tuple(topic.keywords),
            state=point.state,
            previous_state=previous.state if previous else None,
            score=heat(window, self.config) * (1 + max(point.z_score, 0.0)),
            window_count=point.count,
            velocity=point.velocity,
            acceleration=point.acceleration,
            z_score=point.z_score,
            z_global=global_z(point.count, rate, self.config),
            item_count=topic.size,
            at=self.now or topic.last_active,
        )


def _outcome(item: NormalizedItem, **fields: Any) -> ItemOutcome:
    return ItemOutcome(item.item_id, language=item.language, at=item.at, **fields)


def _time(item: NormalizedItem) -> datetime:
    return item.at


def _embedded(item: NormalizedItem, vectors: Vectors, positions: Iterator[int]) -> _Prepared:
    """An original item with the next row of the batch's embeddings."""
    position = next(positions)
    return _Prepared(item, None, vectors[position], position)


def _embedding_text(item: NormalizedItem, config: PipelineConfig) -> str:
    return item.content[: config.embed_max_chars]


def _representative(topic: TopicState) -> str | None:
    """The stored member closest to the centroid."""
    if not topic.vectors:
        return None
    ids = list(topic.vectors)
    cosines = np.stack([topic.vectors[i] for i in ids]) @ topic.centroid
    return ids[int(np.argmax(cosines))]


def _topic_snapshot(topic: TopicState) -> TopicSnapshot:
    representative = topic.representative_id
    return TopicSnapshot(
        topic_id=topic.topic_id,
        label=topic.label,
        keywords=tuple(topic.keywords),
        size=topic.size,
        duplicates=len(topic.duplicate_ids),
        representative_id=representative,
        representative_title=topic.titles.get(representative) if representative else None,
        created_at=topic.created_at,
        last_active=topic.last_active,
    )
