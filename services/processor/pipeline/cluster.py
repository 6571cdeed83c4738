"""Online clustering of items into topics, with topic state held in memory."""

from __future__ import annotations

import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from services.processor.pipeline.archive import TopicArchive
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors, l2_normalize, pack_vector, unpack_vector
from services.processor.pipeline.entities import EntityStats, profile_similarity
from services.processor.pipeline.index import IndexSearch, TopicIndex
from services.processor.pipeline.keywords import terms
from services.processor.pipeline.ledger import ChangeLedger
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.similarity import (
    Evidence,
    TopicView,
    name_words,
    saturating,
    similarity,
)

__all__ = ["Member", "OnlineClusterer", "TopicChanges", "TopicState", "bucket_of"]

_TOPIC_IDS = uuid.UUID("6f1c2a52-27c4-4d4b-9a3e-5b0f8f4e7d21")


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
    """One topic (or candidate topic) and everything needed to extend, label and score it.

    Bounded whatever the topic's size: counts, capped term and entity tallies, and one
    representative member, so that saving and restoring many topics stays cheap.
    """

    topic_id: str
    created_at: datetime
    last_active: datetime
    vector_sum: Vectors
    size: int = 0
    """Original members (duplicates are counted apart)."""
    duplicates: int = 0
    entity_counts: Counter[str] = field(default_factory=Counter)
    """How many members name each entity (the most frequent ones, see _capped)."""
    name_counts: Counter[str] = field(default_factory=Counter)
    """How many members write each entity as a proper name (see Evidence.names)."""
    terms: Counter[str] = field(default_factory=Counter)
    """Title terms of the members, for keywords (the most frequent ones, see _capped)."""
    activity: dict[int, Activity] = field(default_factory=dict)
    """Activity per bucket index (see bucket_of)."""
    keywords: list[str] = field(default_factory=list)
    label: str = ""
    representative_id: str | None = None
    """The member closest to the centroid when it joined or was last compared."""
    representative_title: str | None = None
    representative_vector: Vectors | None = field(default=None, repr=False)
    stale_from: int | None = field(default=None, repr=False, compare=False)
    """The earliest bucket whose activity changed since the trend last looked (not saved)."""
    centroid: Vectors = field(init=False, repr=False)
    """The unit-length mean of the members' embeddings (kept in step with vector_sum)."""
    _salient: tuple[list[tuple[str, float]], list[tuple[str, float]]] = field(
        default=([], []), init=False, repr=False, compare=False
    )
    """The salient entities and proper names with their shares (see identity), as of
    `_salient_size` members."""
    _salient_size: int = field(default=-1, init=False, repr=False, compare=False)
    _words: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    """The words of the salient entities (see similarity.name_words)."""

    def __post_init__(self) -> None:
        self.centroid = l2_normalize(self.vector_sum)

    def add_vector(self, vector: Vectors) -> None:
        """Fold an embedding (or another topic's sum) into the centroid."""
        self.vector_sum = self.vector_sum + vector
        self.centroid = l2_normalize(self.vector_sum)

    def profile(self) -> dict[str, float]:
        """Share of the members naming each entity."""
        return {entity: count / self.size for entity, count in self.entity_counts.items()}

    def recent(self, first_bucket: int, last_bucket: int) -> int:
        """Original members in the buckets from `first_bucket` to `last_bucket`."""
        activity = self.activity
        return sum(activity[i].count for i in range(first_bucket, last_bucket + 1) if i in activity)

    def count_names(self, names: Iterable[str] | Mapping[str, int], capacity: int) -> None:
        """Count proper names of new members (an item's, or an absorbed topic's counts)."""
        self.name_counts.update(names)
        _capped(self.name_counts, capacity)

    def identity(
        self, stats: EntityStats, min_share: float
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The entities that at least `min_share` of the members name, each with its share
        times its IDF weight, and the proper names among them with their shares: what says
        which event the topic is. Shares are kept until the topic's size changes (one pass
        over its counts then); weights are current."""
        if self._salient_size != self.size:
            floor, size = min_share * self.size, self.size + 1
            entities = [(e, n / size) for e, n in self.entity_counts.items() if n >= floor]
            counts = self.entity_counts
            names = [
                (e, n / size)
                for e, n in self.name_counts.items()
                if n >= floor and 2 * n >= counts.get(e, 0)
            ]
            self._salient, self._salient_size = (entities, names), size
            self._words = frozenset().union(*(name_words(e) for e, _ in entities))
        entities, names = self._salient
        return [(entity, share * stats.idf(entity)) for entity, share in entities], names

    def shares_none(self, entities: Iterable[str]) -> bool:
        """Whether no member names any of these entities."""
        return self.entity_counts.keys().isdisjoint(entities)

    def view(
        self,
        cosine: float,
        first_bucket: int,
        last_bucket: int,
        *,
        stats: EntityStats,
        min_share: float,
        recent: int | None = None,
    ) -> TopicView:
        """The topic as compared with one item (the item's cosine to the centroid given;
        `recent`: the topic's items from `first_bucket` to `last_bucket`, when known)."""
        identity, names = self.identity(stats, min_share)
        if recent is None:
            recent = self.recent(first_bucket, last_bucket)
        return TopicView(
            cosine, identity, names, recent, self.entity_counts, self.size, self._words
        )

    def bucket(self, index: int) -> Activity:
        """The activity of one bucket, created empty when missing."""
        return self.activity.setdefault(index, Activity())

    def record(self, index: int, activity: Activity) -> None:
        """Add activity to a bucket (remembering that its trend has to look again)."""
        self.bucket(index).add(activity)
        self.stale_from = index if self.stale_from is None else min(self.stale_from, index)

    def offer_representative(self, item_id: str, title: str, vector: Vectors) -> bool:
        """Take a member as representative if it is closer to the centroid than the current
        one; True when it was taken."""
        current = self.representative_vector
        if current is not None and float(vector @ self.centroid) <= float(current @ self.centroid):
            return False
        self.representative_id, self.representative_title = item_id, title
        self.representative_vector = vector
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the state (see from_dict)."""
        vector = self.representative_vector
        return {
            "topic_id": self.topic_id,
            "created_at": self.created_at.isoformat(),
            "last_active": self.last_active.isoformat(),
            "vector_sum": pack_vector(self.vector_sum),
            "size": self.size,
            "duplicates": self.duplicates,
            "entity_counts": dict(self.entity_counts),
            "name_counts": dict(self.name_counts),
            "terms": dict(self.terms),
            "activity": {str(k): [a.count, a.score, a.comments] for k, a in self.activity.items()},
            "keywords": list(self.keywords),
            "label": self.label,
            "representative_id": self.representative_id,
            "representative_title": self.representative_title,
            "representative_vector": pack_vector(vector) if vector is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicState:
        """The state saved by to_dict."""
        vector = data.get("representative_vector")
        return cls(
            topic_id=data["topic_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_active=datetime.fromisoformat(data["last_active"]),
            vector_sum=unpack_vector(data["vector_sum"]),
            size=int(data["size"]),
            duplicates=int(data["duplicates"]),
            entity_counts=Counter(data["entity_counts"]),
            name_counts=Counter(data.get("name_counts", {})),
            terms=Counter(data["terms"]),
            activity={int(k): Activity(*v) for k, v in data["activity"].items()},
            keywords=list(data["keywords"]),
            label=data["label"],
            representative_id=data["representative_id"],
            representative_title=data["representative_title"],
            representative_vector=unpack_vector(vector) if vector else None,
        )


@dataclass(frozen=True)
class TopicChanges:
    """The topics changed or removed since the last save (see OnlineClusterer.changes)."""

    changed: list[tuple[int, dict[str, Any]]]
    """(position, TopicState.to_dict()) of each topic changed: `position` orders the topics as
    the clusterer holds them, so that a restore holds them in the same order."""
    removed: list[str]
    archived: list[str] = field(default_factory=list)
    """Topics that left memory, their saved state kept (see TopicArchive)."""
    versions: dict[str, int] = field(default_factory=dict, repr=False)
    """The change count of each topic listed, to acknowledge exactly these changes."""


class _Recent(OrderedDict[str, str]):
    """A mapping forgetting its oldest keys beyond a capacity."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def remember(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class OnlineClusterer:
    """Assigns each item to the most similar topic with enough evidence, else a new candidate.

    Centroids and entity profiles update incrementally; candidates that stay below
    `min_topic_size` expire; topics whose centroids and entity profiles converge are merged.
    Every step costs the same however many topics are live: nearest topics come from a
    TopicIndex, expiry runs once per bucket, and per-topic state is bounded.
    """

    def __init__(
        self, config: PipelineConfig, stats: EntityStats | None = None, dimension: int = 384
    ) -> None:
        self.config = config
        self.stats = stats or EntityStats()
        self.topics: dict[str, TopicState] = {}
        self.index = TopicIndex(
            dimension,
            ann_min_topics=config.ann_min_topics,
            neighbours=config.ann_neighbours,
            reindex_cosine=config.ann_reindex_cosine,
            probes=config.ann_probes,
            reduced=config.ann_dimensions,
        )
        self.ledger = ChangeLedger()
        self.counted_ids: dict[str, None] = {}
        """Topics with at least `min_topic_size` members, in the order they got there."""
        self.counted_activity: Counter[int] = Counter()
        """Original items per bucket over all counted topics (for the global rate)."""
        self.counted_terms: Counter[str] = Counter()
        """Title terms summed over all counted topics (c-TF-IDF's overall frequencies)."""
        self._topic_of = _Recent(config.remembered_items)
        """Recent items (originals and duplicates) and the topic each joined."""
        self._merged = _Recent(config.remembered_items)
        """Absorbed topic -> the topic that absorbed it."""
        self._expired_at: int | None = None
        """The bucket of the last expiry pass."""
        self.archive = TopicArchive(
            dimension, timedelta(hours=config.topic_retention_hours), config.archive_capacity
        )
        self.created: dict[str, Evidence] = {}
        """Candidates started since the stage last looked, with the item that started each
        (see take_created)."""
        self.archived_states: dict[str, dict[str, Any]] | None = None
        """Archived topics' states, when kept in memory (else they are only saved)."""

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of every topic, in order, to persist (see restore)."""
        order = sorted(self.topics, key=self.ledger.position)
        archived = [
            {"topic_id": t, "vector_sum": pack_vector(v), "last_active": at.isoformat()}
            for t, v, at in self.archive.entries()
        ]
        return {
            "topics": [self.topics[topic_id].to_dict() for topic_id in order],
            "archived": archived,
        }

    @classmethod
    def restore(
        cls,
        config: PipelineConfig,
        state: dict[str, Any],
        stats: EntityStats | None = None,
        *,
        saved: bool = True,
        dimension: int = 384,
    ) -> OnlineClusterer:
        """A clusterer holding the topics saved by state() (or by changes(): each with its
        "position"), in their order; with `saved` False they all count as changed (the next
        changes() lists every one)."""
        clusterer = cls(config, stats, dimension)
        entries = state["topics"]
        if entries and "position" in entries[0]:
            entries = sorted(entries, key=lambda entry: entry["position"])
        for entry in entries:
            topic = TopicState.from_dict(entry)
            clusterer.restore_topic(topic, entry.get("position"))
            if not saved:
                clusterer.touch(topic.topic_id)
        for entry in state.get("archived", []):
            at = datetime.fromisoformat(entry["last_active"])
            centroid = l2_normalize(unpack_vector(entry["vector_sum"]))
            clusterer.archive.add(entry["topic_id"], centroid, at)
        clusterer.created.clear()
        clusterer.index.commit()
        return clusterer

    def touch(self, topic_id: str) -> None:
        """Record that a topic changed (it is listed by the next changes())."""
        self.ledger.touch(topic_id)

    def changes(self) -> TopicChanges:
        """The topics changed (JSON-ready, with their positions) or removed since the last
        acknowledged save (see saved)."""
        pending = self.ledger.pending()
        changed = [(position, self.topics[t].to_dict()) for position, t in pending.changed]
        return TopicChanges(changed, pending.removed, pending.archived, pending.versions)

    def saved(self, changes: TopicChanges) -> None:
        """Acknowledge saved changes: topics changed again since are still listed next time."""
        self.ledger.saved(changes.versions)

    def restore_topic(self, topic: TopicState, position: int | None = None) -> None:
        """Hold a saved topic again (at its saved position, else last)."""
        self._insert(topic, position)
        self._count(topic, Counter(), {})

    def _insert(self, topic: TopicState, position: int | None = None) -> None:
        """Add a topic last, at the next position (or at a saved one, when restoring)."""
        self.topics[topic.topic_id] = topic
        self.ledger.place(topic.topic_id, position)
        self.index.put(topic.topic_id, topic.centroid)

    def _forget(self, topic: TopicState) -> None:
        del self.topics[topic.topic_id]
        if self.counted_ids.pop(topic.topic_id, 0) is None:
            self.counted_terms.subtract(topic.terms)
            _drop_spent(self.counted_terms, topic.terms)
        self.index.remove(topic.topic_id)
        self.ledger.remove(topic.topic_id)

    def topic_of(self, item_id: str) -> str | None:
        """The live topic a recent item (original or duplicate) belongs to now, if known."""
        topic_id = self.placed_in(item_id)
        return topic_id if topic_id in self.topics else None

    def placed_in(self, item_id: str) -> str | None:
        """The topic holding a recent item now, live or not (archived, expired)."""
        return self.resolve(self._topic_of.get(item_id))

    def resolve(self, topic_id: str | None) -> str | None:
        """The topic that holds a topic's items now (itself, or the topic that absorbed it)."""
        for _ in range(len(self._merged)):  # a chain of merges, never a cycle
            if topic_id is None or topic_id not in self._merged:
                break
            topic_id = self._merged[topic_id]
        return topic_id

    def counted(self) -> list[TopicState]:
        """Topics with at least `min_topic_size` members: the ones that count in trends."""
        return [self.topics[topic_id] for topic_id in self.counted_ids]

    def search(self, vectors: Vectors) -> IndexSearch:
        """Nearest-topic lookups for a batch of embeddings (one row each)."""
        return self.index.search(vectors)

    def near(
        self, vector: Vectors, search: IndexSearch | None = None, position: int = 0
    ) -> list[tuple[str, float]]:
        """(topic id, cosine) of the topics close enough to an embedding to be worth a full
        comparison, closest first (`search` holds the batch's lookups, the embedding's at
        `position`; None: search now)."""
        search = search or self.search(vector.reshape(1, -1))
        return search.near(position, vector, self.config.min_embedding_similarity)

    def assign(self, member: Member, near: list[tuple[str, float]] | None = None) -> str:
        """Put an original item in its best topic (or a new candidate); return the topic id.

        `near` holds the topics near the item (see near()); None: found now.
        """
        if near is None:
            near = self.near(member.evidence.vector)
        topic = self._best_topic(member.evidence, near) or self._new_topic(member)
        self._add(topic, member)
        return topic.topic_id

    def attach(
        self, item_id: str, original_id: str, at: datetime, known: str | None = None
    ) -> str | None:
        """Record a duplicate in its original's topic (not counted again); return the topic.

        `known`: the original's topic as saved, for an original no longer remembered here.
        """
        topic_id = self.topic_of(original_id) or self.resolve(known)
        if topic_id is None or topic_id not in self.topics:
            return topic_id
        if item_id in self._topic_of:
            return self.topic_of(item_id)
        topic = self.topics[topic_id]
        topic.duplicates += 1
        topic.last_active = max(topic.last_active, at)
        self._topic_of.remember(item_id, topic_id)
        self.touch(topic_id)
        return topic_id

    def _best_topic(
        self, evidence: Evidence, near: Iterable[tuple[str, float]]
    ) -> TopicState | None:
        config = self.config
        best, best_score = None, config.join_threshold
        last = bucket_of(evidence.at, config)
        first = last - round(config.activity_window_hours * 60 / config.bucket_minutes)
        penalties = config.absence_weight >= 0 and config.mismatch_weight >= 0
        for topic_id, cosine in near:
            topic = self.topics[topic_id]
            recent = topic.recent(first, last)
            bound = cosine + config.time_weight * saturating(recent, config.activity_saturation)
            if penalties and bound < best_score and topic.shares_none(evidence.entities):
                continue  # no entity in common: no agreement, and names only lower the score
            view = topic.view(
                cosine, first, last, stats=self.stats, min_share=config.salient_share, recent=recent
            )
            score = similarity(evidence, view, config)
            if score >= best_score:
                best, best_score = topic, score
        return best

    def _new_topic(self, member: Member) -> TopicState:
        topic_id = uuid.uuid5(_TOPIC_IDS, member.item_id).hex
        at = member.evidence.at
        vector_sum = np.zeros_like(member.evidence.vector)
        self._insert(TopicState(topic_id, at, at, vector_sum))
        self.created[topic_id] = member.evidence
        return self.topics[topic_id]

    def _add(self, topic: TopicState, member: Member) -> None:
        evidence = member.evidence
        title_terms = Counter(terms(member.title))
        topic.add_vector(evidence.vector)
        topic.size += 1
        topic.entity_counts.update(evidence.entities.keys())
        topic.terms.update(title_terms)
        _capped(topic.entity_counts, self.config.max_topic_entities)
        topic.count_names(evidence.names, self.config.max_topic_entities)
        topic.offer_representative(member.item_id, member.title, evidence.vector)
        bucket = bucket_of(evidence.at, self.config)
        topic.record(bucket, member.activity)
        topic.last_active = max(topic.last_active, evidence.at)
        self._topic_of.remember(member.item_id, topic.topic_id)
        self.index.put(topic.topic_id, topic.centroid)
        self._count(topic, title_terms, {bucket: 1})
        self.touch(topic.topic_id)

    def _count(self, topic: TopicState, joined: Counter[str], added: Mapping[int, int]) -> None:
        """Keep the counted topics' sums in step after title terms (`joined`) and items per
        bucket (`added`) joined `topic`; cap the topic's terms."""
        if topic.size < self.config.min_topic_size:
            _capped(topic.terms, self.config.max_topic_terms)
            return
        if topic.topic_id in self.counted_ids:
            self.counted_activity.update(added)
            self.counted_terms.update(joined)
        else:
            self.counted_ids[topic.topic_id] = None
            self.counted_activity.update({b: a.count for b, a in topic.activity.items()})
            self.counted_terms.update(topic.terms)
        dropped = _capped(topic.terms, self.config.max_topic_terms)
        self.counted_terms.subtract(dropped)
        _drop_spent(self.counted_terms, dropped)

    def expire(self, now: datetime) -> list[str]:
        """Forget stale candidates, archive quiet topics (once per bucket: see TopicArchive);
        return the ids that left memory."""
        bucket = bucket_of(now, self.config)
        if bucket == self._expired_at:
            return []
        self._expired_at = bucket
        candidate_ttl = timedelta(hours=self.config.candidate_ttl_hours)
        quiet = timedelta(hours=self.config.live_topic_hours)
        stale = [
            topic
            for topic in self.topics.values()
            if now - topic.last_active
            > (candidate_ttl if topic.size < self.config.min_topic_size else quiet)
        ]
        for topic in stale:
            if topic.topic_id in self.counted_ids:
                if self.archived_states is not None:
                    self.archived_states[topic.topic_id] = topic.to_dict()
                self._forget(topic)
                self.ledger.archive(topic.topic_id)
                self.archive.add(topic.topic_id, topic.centroid, topic.last_active)
            else:
                self._forget(topic)
        for topic_id in self.archive.prune(now):
            self.ledger.remove(topic_id)
            if self.archived_states is not None:
                self.archived_states.pop(topic_id, None)
        horizon = bucket - self.config.window_buckets * (self.config.baseline_windows + 1)
        for old in [b for b in self.counted_activity if b < horizon]:
            del self.counted_activity[old]
        return [topic.topic_id for topic in stale]

    def merge_converged(self, touched: Iterable[str] | None = None) -> dict[str, str]:
        """Merge topics whose centroids and entity profiles converged; return absorbed -> kept.

        Only pairs with a topic in `touched` (those that changed) are examined; all when None.
        """
        pending = sorted(set(self.topics if touched is None else touched) & self.topics.keys())
        first = {topic_id: n for n, topic_id in enumerate(pending)}
        centroids = np.stack([self.topics[t].centroid for t in pending]) if pending else None
        search = self.search(centroids) if centroids is not None else None
        merged: dict[str, str] = {}
        while pending:
            topic = self.topics[pending.pop(0)]
            known = first.get(topic.topic_id)
            lookup = search if search is not None and known is not None else None
            other = self._converged_with(topic, lookup, known or 0)
            if other is None:
                continue
            kept, absorbed = sorted((topic, other), key=_seniority)
            self._absorb(kept, absorbed)
            merged = {old: _final(new, absorbed, kept) for old, new in merged.items()}
            merged[absorbed.topic_id] = kept.topic_id
            pending = [t for t in pending if t not in (absorbed.topic_id, kept.topic_id)]
            pending.append(kept.topic_id)
        return merged

    def _converged_with(
        self, topic: TopicState, search: IndexSearch | None = None, position: int = 0
    ) -> TopicState | None:
        """The most similar other topic whose centroid and entities agree with this one's
        (`search` holds the lookup of the topic's centroid at `position`; None: search now)."""
        if search is None:
            search, position = self.search(topic.centroid.reshape(1, -1)), 0
        floor = self.config.merge_centroid_similarity
        for topic_id, _ in search.near(position, topic.centroid, floor):
            other = self.topics[topic_id]
            if other is not topic and self._entities_agree(topic, other):
                return other
        return None

    def _entities_agree(self, first: TopicState, second: TopicState) -> bool:
        """Salient entity profiles similar enough, or one topic has no salient entity."""
        salient = [_salient(t.profile(), self.config.salient_share) for t in (first, second)]
        if not salient[0] or not salient[1]:
            return True
        agreement = profile_similarity(salient[0], salient[1], self.stats)
        return agreement >= self.config.merge_entity_similarity

    def _absorb(self, kept: TopicState, absorbed: TopicState) -> None:
        was_counted = absorbed.topic_id in self.counted_ids
        kept.add_vector(absorbed.vector_sum)
        kept.size += absorbed.size
        kept.duplicates += absorbed.duplicates
        kept.entity_counts.update(absorbed.entity_counts)
        kept.terms.update(absorbed.terms)
        _capped(kept.entity_counts, self.config.max_topic_entities)
        kept.count_names(absorbed.name_counts, self.config.max_topic_entities)
        for index, activity in absorbed.activity.items():
            kept.record(index, activity)
        kept.created_at = min(kept.created_at, absorbed.created_at)
        kept.last_active = max(kept.last_active, absorbed.last_active)
        if absorbed.representative_id and absorbed.representative_vector is not None:
            title = absorbed.representative_title or ""
            kept.offer_representative(
                absorbed.representative_id, title, absorbed.representative_vector
            )
        self._forget(absorbed)
        self._merged.remember(absorbed.topic_id, kept.topic_id)
        self.index.put(kept.topic_id, kept.centroid)
        added = {} if was_counted else {b: a.count for b, a in absorbed.activity.items()}
        self._count(kept, absorbed.terms, added)
        self.touch(kept.topic_id)

    def commit(self) -> None:
        """End of a batch: the index takes the centroids that moved."""
        self.index.commit()

    def take_created(self) -> dict[str, Evidence]:
        """The candidates started since the last call (still live), each with the evidence
        of the item that started it."""
        created = {t: e for t, e in self.created.items() if t in self.topics}
        self.created.clear()
        return created

    def join_back(
        self, candidate: str, archived: Iterable[str], evidence: Evidence
    ) -> dict[str, str]:
        """Merge a candidate into the topic taken back from the archive that the item that
        started the candidate would have joined (had they been live); return absorbed -> kept
        (empty when it stays apart)."""
        new = self.topics.get(candidate)
        back = [self.topics[t] for t in archived if t in self.topics and t != candidate]
        if new is None or not back:
            return {}
        near = [(topic.topic_id, float(evidence.vector @ topic.centroid)) for topic in back]
        old = self._best_topic(evidence, sorted(near, key=lambda pair: -pair[1]))
        if old is None:
            return {}
        kept, absorbed = sorted((new, old), key=_seniority)
        self._absorb(kept, absorbed)
        return {absorbed.topic_id: kept.topic_id}


def _seniority(topic: TopicState) -> tuple[int, datetime, str]:
    """The larger (then older) of two merging topics keeps its id."""
    return -topic.size, topic.created_at, topic.topic_id


def _final(topic_id: str, absorbed: TopicState, kept: TopicState) -> str:
    return kept.topic_id if topic_id == absorbed.topic_id else topic_id


def _salient(profile: dict[str, float], min_share: float) -> dict[str, float]:
    return {entity: share for entity, share in profile.items() if share >= min_share}


def _capped(counts: Counter[str], capacity: int) -> Counter[str]:
    """Keep the `capacity` most frequent keys once there are twice as many (amortised);
    return what was dropped."""
    if len(counts) <= 2 * capacity:
        return Counter()
    kept = dict(counts.most_common(capacity))
    dropped = Counter({key: count for key, count in counts.items() if key not in kept})
    counts.clear()
    counts.update(kept)
    return dropped


def _drop_spent(counts: Counter[str], keys: Iterable[str]) -> None:
    """Remove the keys whose count fell to zero (or below)."""
    for key in keys:
        if counts.get(key, 1) <= 0:
            del counts[key]
