"""Online clustering of items into topics, with topic state held in memory."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors, l2_normalize
from services.processor.pipeline.entities import EntityStats, profile_similarity
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.similarity import Evidence, TopicView, similarity

__all__ = ["Member", "OnlineClusterer", "TopicChanges", "TopicState", "bucket_of"]

_TOPIC_IDS = uuid.UUID("6f1c2a52-27c4-4d4b-9a3e-5b0f8f4e7d21")


def _packed(vector: Vectors) -> str:
    """A float32 vector as base64 text: exact, and far cheaper to write and read than a list."""
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def _unpacked(saved: str | list[float]) -> Vectors:
    """The vector saved by _packed (or as a list of floats, by earlier versions)."""
    if isinstance(saved, str):
        return np.frombuffer(base64.b64decode(saved), dtype=np.float32).copy()
    return np.asarray(saved, dtype=np.float32)


def bucket_of(at: datetime, config: PipelineConfig) -> int:
    """The index of the activity bucket holding a moment (buckets count from the epoch)."""
    return int(at.timestamp() // config.bucket.total_seconds())


@dataclass(frozen=True, slots=True)
class Member:
    """An original item as clustering sees it."""

    item_id: str
    title: str
    evidence: Evidence
    score: int | None = None
    comments: int | None = None

    @property
    def activity(self) -> Activity:
        """The item's contribution to its bucket."""
        return Activity(1, self.score or 0, self.comments or 0)


@dataclass
class TopicState:
    """One topic (or candidate topic) and everything needed to extend, label and score it."""

    topic_id: str
    created_at: datetime
    last_active: datetime
    vector_sum: Vectors
    member_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    entity_counts: Counter[str] = field(default_factory=Counter)
    """How many members name each entity."""
    titles: dict[str, str] = field(default_factory=dict)
    """Recent members' titles, for keywords."""
    vectors: dict[str, Vectors] = field(default_factory=dict)
    """Recent members' embeddings, for the representative item."""
    activity: dict[int, Activity] = field(default_factory=dict)
    """Activity per bucket index (see bucket_of)."""
    keywords: list[str] = field(default_factory=list)
    label: str = ""
    representative_id: str | None = None
    centroid: Vectors = field(init=False, repr=False)
    """The unit-length mean of the members' embeddings (kept in step with vector_sum)."""

    def __post_init__(self) -> None:
        self.centroid = l2_normalize(self.vector_sum)

    @property
    def size(self) -> int:
        """Original members (duplicates excluded)."""
        return len(self.member_ids)

    def add_vector(self, vector: Vectors) -> None:
        """Fold an embedding (or another topic's sum) into the centroid."""
        self.vector_sum = self.vector_sum + vector
        self.centroid = l2_normalize(self.vector_sum)

    def profile(self) -> dict[str, float]:
        """Share of the members naming each entity."""
        return {entity: count / self.size for entity, count in self.entity_counts.items()}

    def view(self, vector: Vectors, first_bucket: int, last_bucket: int) -> TopicView:
        """The topic as compared with one item: its embedding and its activity window."""
        recent = sum(
            self.activity[i].count for i in self.activity if first_bucket <= i <= last_bucket
        )
        return TopicView(float(self.centroid @ vector), self.profile(), recent)

    def bucket(self, index: int) -> Activity:
        """The activity of one bucket, created empty when missing."""
        return self.activity.setdefault(index, Activity())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the state (see from_dict)."""
        return {
            "topic_id": self.topic_id,
            "created_at": self.created_at.isoformat(),
            "last_active": self.last_active.isoformat(),
            "vector_sum": _packed(self.vector_sum),
            "member_ids": list(self.member_ids),
            "duplicate_ids": list(self.duplicate_ids),
            "entity_counts": dict(self.entity_counts),
            "titles": dict(self.titles),
            "vectors": {key: _packed(vector) for key, vector in self.vectors.items()},
            "activity": {str(k): [a.count, a.score, a.comments] for k, a in self.activity.items()},
            "keywords": list(self.keywords),
            "label": self.label,
            "representative_id": self.representative_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicState:
        """The state saved by to_dict."""
        return cls(
            topic_id=data["topic_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_active=datetime.fromisoformat(data["last_active"]),
            vector_sum=_unpacked(data["vector_sum"]),
            member_ids=list(data["member_ids"]),
            duplicate_ids=list(data["duplicate_ids"]),
            entity_counts=Counter(data["entity_counts"]),
            titles=dict(data["titles"]),
            vectors={k: _unpacked(v) for k, v in data["vectors"].items()},
            activity={int(k): Activity(*v) for k, v in data["activity"].items()},
            keywords=list(data["keywords"]),
            label=data["label"],
            representative_id=data["representative_id"],
        )


@dataclass(frozen=True)
class TopicChanges:
    """The topics changed or removed since the last save (see OnlineClusterer.changes)."""

    changed: list[tuple[int, dict[str, Any]]]
    """(position, TopicState.to_dict()) of each topic changed: `position` orders the topics as
    the clusterer holds them, so that a restore compares them in the same order."""
    removed: list[str]
    versions: dict[str, int] = field(repr=False)
    """The change count of each topic listed, to acknowledge exactly these changes."""


class OnlineClusterer:
    """Assigns each item to the most similar topic with enough evidence, else a new candidate.

    Centroids and entity profiles update incrementally; candidates that stay below
    `min_topic_size` expire; topics whose centroids and entity profiles converge are merged.
    """

    def __init__(self, config: PipelineConfig, stats: EntityStats | None = None) -> None:
        self.config = config
        self.stats = stats or EntityStats()
        self.topics: dict[str, TopicState] = {}
        self._topic_of: dict[str, str] = {}
        self._positions: dict[str, int] = {}
        """Each topic's place in the order of `topics` (increasing with insertion)."""
        self._next_position = 0
        self._changed: dict[str, int] = {}
        """Topics changed since their last save, with a count of changes."""
        self._removed: dict[str, int] = {}
        """Topics removed since the last save, with a count of changes."""
        self._changes = 0

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of every topic, in order, to persist (see restore)."""
        return {"topics": [topic.to_dict() for topic in self.topics.values()]}

    @classmethod
    def restore(
        cls,
        config: PipelineConfig,
        state: dict[str, Any],
        stats: EntityStats | None = None,
        *,
        saved: bool = True,
    ) -> OnlineClusterer:
        """A clusterer holding the topics saved by state() (or by changes(): each with its
        "position"), in their order; with `saved` False they all count as changed (the next
        changes() lists every one)."""
        clusterer = cls(config, stats)
        for entry in state["topics"]:
            topic = TopicState.from_dict(entry)
            clusterer._insert(topic, entry.get("position"))
            for item_id in (*topic.member_ids, *topic.duplicate_ids):
                clusterer._topic_of[item_id] = topic.topic_id
            if not saved:
                clusterer.touch(topic.topic_id)
        return clusterer

    def touch(self, topic_id: str) -> None:
        """Record that a topic changed (it is listed by the next changes())."""
        self._changes += 1
        self._changed[topic_id] = self._changes
        self._removed.pop(topic_id, None)

    def changes(self) -> TopicChanges:
        """The topics changed (JSON-ready, with their positions) or removed since the last
        acknowledged save (see saved)."""
        changed = [(self._position(i), self.topics[i].to_dict()) for i in self._changed]
        versions = {**self._changed, **self._removed}
        return TopicChanges(changed, list(self._removed), versions)

    def saved(self, changes: TopicChanges) -> None:
        """Acknowledge saved changes: topics changed again since are still listed next time."""
        for topic_id, version in changes.versions.items():
            for pending in (self._changed, self._removed):
                if pending.get(topic_id) == version:
                    del pending[topic_id]

    def _insert(self, topic: TopicState, position: int | None = None) -> None:
        """Add a topic last, at the next position (or at a saved one, when restoring)."""
        position = self._next_position if position is None else position
        self.topics[topic.topic_id] = topic
        self._positions[topic.topic_id] = position
        self._next_position = max(self._next_position, position + 1)

    def _position(self, topic_id: str) -> int:
        """A topic's position (a topic put in `topics` directly gets the next one)."""
        if topic_id not in self._positions:
            self._positions[topic_id] = self._next_position
            self._next_position += 1
        return self._positions[topic_id]

    def _forget(self, topic_id: str) -> None:
        del self.topics[topic_id]
        self._positions.pop(topic_id, None)
        self._changes += 1
        self._changed.pop(topic_id, None)
        self._removed[topic_id] = self._changes

    def topic_of(self, item_id: str) -> str | None:
        """The topic an item (original or duplicate) belongs to now, if any."""
        return self._topic_of.get(item_id)

    def counted(self) -> list[TopicState]:
        """Topics with at least `min_topic_size` members: the ones that count in trends."""
        return [t for t in self.topics.values() if t.size >= self.config.min_topic_size]

    def assign(self, member: Member) -> str:
        """Put an original item in its best topic (or a new candidate); return the topic id."""
        topic = self._best_topic(member.evidence) or self._new_topic(member)
        self._add(topic, member)
        return topic.topic_id

    def attach(self, item_id: str, original_id: str, at: datetime) -> str | None:
        """Record a duplicate in its original's topic (not counted again); return the topic."""
        topic_id = self._topic_of.get(original_id)
        if topic_id is None or item_id in self._topic_of:
            return topic_id
        topic = self.topics[topic_id]
        topic.duplicate_ids.append(item_id)
        topic.last_active = max(topic.last_active, at)
        self._topic_of[item_id] = topic_id
        self.touch(topic_id)
        return topic_id

    def _best_topic(self, evidence: Evidence) -> TopicState | None:
        best, best_score = None, self.config.join_threshold
        last = bucket_of(evidence.at, self.config)
        first = last - round(self.config.activity_window_hours * 60 / self.config.bucket_minutes)
        for topic in self._near(evidence.vector):
            view = topic.view(evidence.vector, first, last)
            score = similarity(evidence, view, self.config)
            if score >= best_score:
                best, best_score = topic, score
        return best

    def _near(self, vector: Vectors) -> Iterable[TopicState]:
        """Topics whose centroid is close enough to be worth a full comparison."""
        if not self.topics:
            return []
        topics = list(self.topics.values())
        cosines = np.stack([topic.centroid for topic in topics]) @ vector
        floor = self.config.min_embedding_similarity
        return [topic for topic, cosine in zip(topics, cosines, strict=True) if cosine >= floor]

    def _new_topic(self, member: Member) -> TopicState:
        topic_id = uuid.uuid5(_TOPIC_IDS, member.item_id).hex
        at = member.evidence.at
        vector_sum = np.zeros_like(member.evidence.vector)
        self._insert(TopicState(topic_id, at, at, vector_sum))
        return self.topics[topic_id]

    def _add(self, topic: TopicState, member: Member) -> None:
        topic.add_vector(member.evidence.vector)
        topic.member_ids.append(member.item_id)
        topic.entity_counts.update(member.evidence.entities.keys())
        topic.titles[member.item_id] = member.title
        topic.vectors[member.item_id] = member.evidence.vector
        _trim(topic.titles, self.config.max_member_titles)
        _trim(topic.vectors, self.config.max_member_vectors)
        topic.bucket(bucket_of(member.evidence.at, self.config)).add(member.activity)
        topic.last_active = max(topic.last_active, member.evidence.at)
        self._topic_of[member.item_id] = topic.topic_id
        self.touch(topic.topic_id)

    def expire(self, now: datetime) -> list[str]:
        """Forget stale candidates and long-idle topics; return the ids removed."""
        candidate_ttl = timedelta(hours=self.config.candidate_ttl_hours)
        retention = timedelta(hours=self.config.topic_retention_hours)
        stale = [
            topic
            for topic in self.topics.values()
            if now - topic.last_active
            > (candidate_ttl if topic.size < self.config.min_topic_size else retention)
        ]
        for topic in stale:
            self._remove(topic)
        return [topic.topic_id for topic in stale]

    def _remove(self, topic: TopicState) -> None:
        self._forget(topic.topic_id)
        for item_id in (*topic.member_ids, *topic.duplicate_ids):
            self._topic_of.pop(item_id, None)

    def merge_converged(self, touched: Iterable[str] | None = None) -> dict[str, str]:
        """Merge topics whose centroids and entity profiles converged; return absorbed -> kept.

        Only pairs with a topic in `touched` (those that changed) are examined; all when None.
        """
        pending = sorted(set(self.topics if touched is None else touched) & self.topics.keys())
        merged: dict[str, str] = {}
        while pending:
            topic = self.topics[pending.pop(0)]
            other = self._converged_with(topic)
            if other is None:
                continue
            kept, absorbed = sorted((topic, other), key=_seniority)
            self._absorb(kept, absorbed)
            merged = {old: _final(new, absorbed, kept) for old, new in merged.items()}
            merged[absorbed.topic_id] = kept.topic_id
            pending = [t for t in pending if t not in (absorbed.topic_id, kept.topic_id)]
            pending.append(kept.topic_id)
        return merged

    def _converged_with(self, topic: TopicState) -> TopicState | None:
        """The most similar other topic whose centroid and entities agree with this one's."""
        others = [other for other in self.topics.values() if other is not topic]
        if not others:
            return None
        cosines = np.stack([other.centroid for other in others]) @ topic.centroid
        for index in np.argsort(-cosines):
            if cosines[index] < self.config.merge_centroid_similarity:
                return None
            if self._entities_agree(topic, others[index]):
                return others[index]
        return None

    def _entities_agree(self, first: TopicState, second: TopicState) -> bool:
        """Salient entity profiles similar enough, or one topic has no salient entity."""
        salient = [_salient(t.profile(), self.config.salient_share) for t in (first, second)]
        if not salient[0] or not salient[1]:
            return True
        agreement = profile_similarity(salient[0], salient[1], self.stats)
        return agreement >= self.config.merge_entity_similarity

    def _absorb(self, kept: TopicState, absorbed: TopicState) -> None:
        kept.add_vector(absorbed.vector_sum)
        kept.member_ids.extend(absorbed.member_ids)
        kept.duplicate_ids.extend(absorbed.duplicate_ids)
        kept.entity_counts.update(absorbed.entity_counts)
        kept.titles.update(absorbed.titles)
        kept.vectors.update(absorbed.vectors)
        for index, activity in absorbed.activity.items():
            kept.bucket(index).add(activity)
        kept.created_at = min(kept.created_at, absorbed.created_at)
        kept.last_active = max(kept.last_active, absorbed.last_active)
        self.touch(kept.topic_id)
        self._forget(absorbed.topic_id)
        for item_id in (*absorbed.member_ids, *absorbed.duplicate_ids):
            self._topic_of[item_id] = kept.topic_id


def _seniority(topic: TopicState) -> tuple[int, datetime, str]:
    """The larger (then older) of two merging topics keeps its id."""
    return -topic.size, topic.created_at, topic.topic_id


def _final(topic_id: str, absorbed: TopicState, kept: TopicState) -> str:
    return kept.topic_id if topic_id == absorbed.topic_id else topic_id


def _salient(profile: dict[str, float], min_share: float) -> dict[str, float]:
    return {entity: share for entity, share in profile.items() if share >= min_share}


def _trim(members: dict[str, Any], capacity: int) -> None:
    """Drop the oldest entries of an insertion-ordered dict beyond a capacity."""
    for key in list(members)[: max(0, len(members) - capacity)]:
        del members[key]
