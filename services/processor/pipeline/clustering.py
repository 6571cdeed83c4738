"""The cluster stage: near-duplicates, topics, labels and trends, over the whole stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from services.processor.pipeline.cluster import Member, OnlineClusterer, TopicState, bucket_of
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.dedupe import NearDuplicateIndex
from services.processor.pipeline.enrich import Enriched
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.index import IndexSearch
from services.processor.pipeline.labels import Labeller
from services.processor.pipeline.results import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)
from services.processor.pipeline.rules import rules_of
from services.processor.pipeline.similarity import Evidence
from services.processor.pipeline.trends import TrendBook

__all__ = ["ClusterStage"]

_REVIVED_AT_MOST = 3
"""Archived topics brought back for one returning candidate, closest first."""


class ClusterStage:
    """Everything that needs the whole stream in one place: entity statistics, the
    near-duplicate index, the topics, the trend clock. One writer holds it at a time (the
    processor worker that owns items.enriched); its state is saved after every batch and
    restored by the next owner.
    """

    def __init__(
        self, config: PipelineConfig, dimension: int, *, keep_archived: bool = False
    ) -> None:
        self.config = config
        self.dimension = dimension
        self.keep_archived = keep_archived
        """Keep archived topics' states in memory (the in-memory pipeline: no PostgreSQL)."""
        self.stats = EntityStats(capacity=config.max_entities)
        self.clusterer = OnlineClusterer(config, self.stats, dimension, keep_archived=keep_archived)
        self.near = NearDuplicateIndex(
            dimension,
            config.near_duplicate_similarity,
            config.near_duplicate_min_entity_overlap,
            timedelta(hours=config.near_duplicate_window_hours),
            config.near_duplicate_capacity,
        )
        self.labels = Labeller(config)
        self._reviving: dict[str, Evidence] = {}
        self._archive_checked: dict[str, int] = {}
        """The bucket in which each counted topic was last compared with the archive."""
        """The evidence of the items that started the candidates of the pending revivals."""
        self.book = TrendBook(config)
        self.duplicates = 0
        self.restored_rules: str | None = None
        """The rules of the state this stage was restored from (see restore)."""
        self.now: datetime | None = None
        """The latest item time seen: the pipeline's clock (event time, not wall time)."""
        self.started: datetime | None = None
        """The earliest item time seen: since then, the pipeline knows which topics were silent."""

    def process(
        self, items: Sequence[Enriched], known: Mapping[str, str] | None = None
    ) -> BatchResult:
        """Place a batch of enriched items (in time order) and rescore what they touched.

        `known` maps originals no longer remembered here (their items were placed before this
        stage was restored) to the topic they were saved in, for their exact duplicates.
        """
        ordered = sorted(items, key=_time)
        embedded = [item.vector for item in ordered if item.vector is not None]
        vectors = np.stack(embedded) if embedded else np.zeros((0, self.dimension), np.float32)
        topics = self.clusterer.search(vectors)
        outcomes, position = [], 0
        for item in ordered:
            self.now = max(self.now or item.at, item.at)
            self.started = min(self.started or item.at, item.at)
            if item.vector is not None:
                outcomes.append(self._place(item, position, topics))
                position += 1
            elif item.duplicate_of in (None, item.item_id):  # a redelivery: already placed
                outcomes.append(_outcome(item, topic_id=self.clusterer.topic_of(item.item_id)))
            else:
                original = item.duplicate_of
                outcomes.append(self._duplicate(item, original, (known or {}).get(original)))
        return self._settle(outcomes)

    def _place(self, item: Enriched, position: int, topics: IndexSearch) -> ItemOutcome:
        """Attach a near-duplicate to its original's topic, or cluster an original.

        The topics near the item (from the batch's lookups) serve both: a near-duplicate's
        original is among their recent members, and the item joins the best of them.
        """
        placed = self.clusterer.topic_of(item.item_id)
        if placed is not None:  # a redelivery: already placed
            return _outcome(item, topic_id=placed)
        assert item.vector is not None
        near = self.clusterer.near(item.vector, topics, position)
        entities = self.stats.weights(item.entities)
        original = self.near.original_of(item.vector, item.at, entities, (t for t, _ in near))
        if original is not None:
            return self._duplicate(item, original, None, item.vector)
        self.stats.observe(item.entities)
        evidence = Evidence(item.vector, entities, item.at, frozenset(item.names))
        member = Member(item.item_id, item.title, evidence, item.score, item.comments)
        topic_id = self.clusterer.assign(member, near)
        self.near.add(item.item_id, item.vector, item.at, entities, topic_id)
        return _outcome(item, topic_id=topic_id, vector=item.vector)

    def _duplicate(
        self, item: Enriched, original: str, known: str | None, vector: Any = None
    ) -> ItemOutcome:
        self.duplicates += 1
        topic_id = self.clusterer.attach(item.item_id, original, item.at, known)
        return _outcome(item, duplicate_of=original, topic_id=topic_id, vector=vector)

    def _settle(self, outcomes: list[ItemOutcome]) -> BatchResult:
        """After placing a batch: expiry, merges, labels, trends and ranks."""
        clusterer = self.clusterer
        expired = clusterer.expire(self.now) if self.now else []
        touched = clusterer.live(o.topic_id for o in outcomes if o.topic_id)
        merged = clusterer.merge_converged(touched)
        grown = {merged.get(t, t) for t in touched}
        homed = clusterer.home_strays(grown)
        merged = {old: homed.get(new, new) for old, new in merged.items()} | homed
        for absorbed, kept in merged.items():
            self.near.merge(absorbed, kept)
        self.near.forget(expired)
        touched = {merged.get(t, t) for t in touched} | set(merged.values())
        self.book.forget([*expired, *merged])
        snapshots, trends, ranks = self._rescore(touched)
        revivals = {**self._merge_revivals(touched), **self._revivals()}
        return BatchResult(outcomes, snapshots, trends, merged, expired, revivals, ranks)

    def _merge_revivals(self, touched: set[str]) -> dict[str, list[str]]:
        """Counted topics this batch touched whose centroid meets an archived topic's as two
        parts of one story would (merge_centroid_similarity): the archived topic comes back
        and the two merge if their names agree (once per topic and bucket, the archive
        being searched whole)."""
        clusterer = self.clusterer
        if not clusterer.has_archived() or self.now is None:
            return {}
        bucket = bucket_of(self.now, self.config)
        due = [
            t
            for t in sorted(t for t in touched if clusterer.is_counted(t))
            if self._archive_checked.get(t) != bucket
        ]
        self._archive_checked = {t: bucket for t in due} | {
            t: b for t, b in self._archive_checked.items() if b == bucket
        }
        if not due:
            return {}
        found = clusterer.archived_close_to(due, self.config.merge_centroid_similarity)
        return {
            t: archived[:_REVIVED_AT_MOST]
            for t, archived in zip(due, found, strict=True)
            if archived
        }

    def _rescore(
        self, touched: set[str]
    ) -> tuple[list[TopicSnapshot], list[TrendSnapshot], dict[str, int | None]]:
        """Labels, trends and ranks after the touched topics changed; the index catches up."""
        clusterer = self.clusterer
        self.labels.refresh(clusterer, touched)
        trends = self.book.recompute(clusterer, touched, self.now, self.started)
        ranks = self.book.rerank(trends)
        clusterer.commit()
        counted = clusterer.counted_of(touched)
        return [_snapshot(topic) for topic in sorted(counted, key=_largest)], trends, ranks

    def _revivals(self) -> dict[str, list[str]]:
        """Candidates started in this batch that may continue an archived topic (the archived
        topics closest to the item that started each, closest first, a few at most): a story
        that returned after going quiet."""
        created = self.clusterer.take_created()
        if not created or not self.clusterer.has_archived():
            return {}
        ids = list(created)
        vectors = np.stack([created[t].vector for t in ids])
        floor = self.config.min_embedding_similarity
        found = self.clusterer.archived_near(vectors, floor)
        revivals = {
            topic: archived[:_REVIVED_AT_MOST]
            for topic, archived in zip(ids, found, strict=True)
            if archived
        }
        self._reviving = {t: created[t] for t in revivals}
        return revivals

    def revive(
        self, revivals: Mapping[str, list[str]], saved: Mapping[str, dict[str, Any]]
    ) -> BatchResult:
        """Take archived topics back (their saved states, by id) and merge each candidate
        that continues one into it when the item that started it would have joined it; the
        result as a batch without items."""
        clusterer = self.clusterer
        clusterer.take_back(saved)
        merged: dict[str, str] = {}
        for new, archived in revivals.items():
            evidence = self._reviving.get(new)
            if evidence is not None:
                candidate = clusterer.resolve(new) or new
                merged.update(clusterer.join_back(candidate, archived, evidence))
        self._reviving = {}
        back = clusterer.live(t for found in revivals.values() for t in found)
        later = clusterer.merge_converged(back)  # parts of one story, one of them archived
        merged = {old: later.get(new, new) for old, new in merged.items()} | later
        for absorbed, kept in merged.items():
            self.near.merge(absorbed, kept)
        touched = clusterer.live(saved) | set(merged.values())
        self.book.forget(merged)
        snapshots, trends, ranks = self._rescore(touched)
        return BatchResult([], snapshots, trends, merged, [], {}, ranks)

    def topic_of(self, item_id: str) -> str | None:
        """The counted topic a recent item belongs to, if any (live or archived)."""
        return self.clusterer.counted_topic_of(item_id)

    def topics(self) -> list[TopicSnapshot]:
        """Every counted topic, largest first."""
        return [_snapshot(topic) for topic in sorted(self.clusterer.counted(), key=_largest)]

    def trends(self) -> list[TrendSnapshot]:
        """The trend of every counted topic at the latest item's time, highest score first."""
        return self.book.of(self.clusterer, self.clusterer.counted(), self.now, self.started)

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of what the stage learnt: the clock, entity counts and topics.

        The near-duplicate index is not included: it only looks back
        `near_duplicate_window_hours`, and exact duplicates are found by the enrich stage.
        """
        frequency = dict(self.stats.frequency)
        return {**self._head(), "frequency": frequency, "clusterer": self.clusterer.state()}

    def state_changes(self) -> StateChanges:
        """What changed since the last acknowledged save (see state_saved)."""
        return StateChanges(self._head(), self.clusterer.changes(), self.stats.changes())

    def state_saved(self, changes: StateChanges) -> None:
        """Acknowledge that `changes` were saved (a failed save keeps them pending)."""
        self.clusterer.saved(changes.topics)
        self.stats.saved(changes.entities)

    @property
    def rules(self) -> str:
        """The rules this stage places items by (see rules.rules_of)."""
        return rules_of(self.config)

    def _head(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "now": self.now.isoformat() if self.now else None,
            "started": self.started.isoformat() if self.started else None,
            "documents": self.stats.documents,
        }

    def restore(self, state: dict[str, Any], *, saved: bool = True) -> None:
        """Continue from a state given by state() (or saved by state_changes() and read back);
        with `saved` False every topic is pending for the next state_changes(). The rules the
        state was saved under are kept in `restored_rules` (None: saved before they were)."""
        self.restored_rules = state.get("rules")
        self.now = datetime.fromisoformat(state["now"]) if state["now"] else None
        self.started = datetime.fromisoformat(state["started"]) if state["started"] else None
        self.stats = EntityStats.restore(
            {"documents": state["documents"], "frequency": state.get("frequency", {})},
            self.config.max_entities,
        )
        self.clusterer = OnlineClusterer.restore(
            self.config,
            state["clusterer"],
            self.stats,
            saved=saved,
            dimension=self.dimension,
            keep_archived=self.keep_archived,
        )
        self.book = TrendBook(self.config)


def _outcome(item: Enriched, **fields: Any) -> ItemOutcome:
    return ItemOutcome(item.item_id, language=item.language, at=item.at, **fields)


def _time(item: Enriched) -> datetime:
    return item.at


def _largest(topic: TopicState) -> tuple[int, datetime]:
    return -topic.size, topic.created_at


def _snapshot(topic: TopicState) -> TopicSnapshot:
    return TopicSnapshot(
        topic_id=topic.topic_id,
        label=topic.label,
        keywords=tuple(topic.keywords),
        size=topic.size,
        duplicates=topic.duplicates,
        representative_id=topic.representative_id,
        representative_title=topic.representative_title,
        created_at=topic.created_at,
        last_active=topic.last_active,
    )
