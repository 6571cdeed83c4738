"""One topic's state: the members' counts, centroid, activity and representative."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors, l2_normalize
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.keywords import terms
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.similarity import Evidence, TopicView, name_words

__all__ = ["Member", "TopicState", "bucket_of", "capped", "drop_spent"]

UNSAVED = {"saved": False}
"""Field metadata of a TopicState field the codec leaves out (see codec.encode_topic)."""


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
    representative member, so that saving and restoring many topics stays cheap. A field
    added here is saved and restored by the codec from its type (see codec.encode_topic);
    join and absorb say how members and merged topics add to it.
    """

    topic_id: str
    created_at: datetime
    last_active: datetime
    vector_sum: Vectors
    size: int = 0
    """Original members (duplicates are counted apart)."""
    duplicates: int = 0
    entity_counts: Counter[str] = field(default_factory=Counter)
    """How many members name each entity (the most frequent ones, see capped)."""
    name_counts: Counter[str] = field(default_factory=Counter)
    """How many members write each entity as a proper name (see Evidence.names)."""
    terms: Counter[str] = field(default_factory=Counter)
    """Title terms of the members, for keywords (the most frequent ones, see capped)."""
    activity: dict[int, Activity] = field(default_factory=dict)
    """Activity per bucket index (see bucket_of)."""
    keywords: list[str] = field(default_factory=list)
    label: str = ""
    representative_id: str | None = None
    """The member closest to the centroid when it joined or was last compared."""
    representative_title: str | None = None
    representative_vector: Vectors | None = field(default=None, repr=False)
    stale_from: int | None = field(default=None, repr=False, compare=False, metadata=UNSAVED)
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

    def join(self, member: Member, bucket: int, capacity: int) -> Counter[str]:
        """Count an original member (its activity in `bucket`; at most about `capacity`
        entities kept); return its title terms."""
        evidence = member.evidence
        title_terms = Counter(terms(member.title))
        self.add_vector(evidence.vector)
        self.size += 1
        self.entity_counts.update(evidence.entities.keys())
        self.terms.update(title_terms)
        capped(self.entity_counts, capacity)
        self.count_names(evidence.names, capacity)
        self.offer_representative(member.item_id, member.title, evidence.vector)
        self.record(bucket, member.activity)
        self.last_active = max(self.last_active, evidence.at)
        return title_terms

    def absorb(self, other: TopicState, capacity: int) -> None:
        """Take in every member of a topic merged into this one."""
        self.add_vector(other.vector_sum)
        self.size += other.size
        self.duplicates += other.duplicates
        self.entity_counts.update(other.entity_counts)
        self.terms.update(other.terms)
        capped(self.entity_counts, capacity)
        self.count_names(other.name_counts, capacity)
        for index, activity in other.activity.items():
            self.record(index, activity)
        self.created_at = min(self.created_at, other.created_at)
        self.last_active = max(self.last_active, other.last_active)
        if other.representative_id and other.representative_vector is not None:
            title = other.representative_title or ""
            self.offer_representative(other.representative_id, title, other.representative_vector)

    def add_duplicate(self, at: datetime) -> None:
        """Count a duplicate of a member (not a member again)."""
        self.duplicates += 1
        self.last_active = max(self.last_active, at)

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
        capped(self.name_counts, capacity)

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


def capped(counts: Counter[str], capacity: int) -> Counter[str]:
    """Keep the `capacity` most frequent keys once there are twice as many (amortised);
    return what was dropped."""
    if len(counts) <= 2 * capacity:
        return Counter()
    kept = dict(counts.most_common(capacity))
    dropped = Counter({key: count for key, count in counts.items() if key not in kept})
    counts.clear()
    counts.update(kept)
    return dropped


def drop_spent(counts: Counter[str], keys: Iterable[str]) -> None:
    """Remove the keys whose count fell to zero (or below)."""
    for key in keys:
        if counts.get(key, 1) <= 0:
            del counts[key]
