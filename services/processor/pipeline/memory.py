"""The topic memory: live topics, their index, their change ledger and the counted sums."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.index import TopicIndex
from services.processor.pipeline.ledger import ChangeLedger
from services.processor.pipeline.recent import Recent
from services.processor.pipeline.topic import Member, TopicState, bucket_of, capped, drop_spent

__all__ = ["CountedTopics", "TopicMemory"]


class CountedTopics(Protocol):
    """What labels and trends read of the topics: the counted ones and their sums. They
    change a topic only through relabel and take_stale."""

    @property
    def counted_terms(self) -> Mapping[str, int]:
        """Title terms summed over all counted topics (c-TF-IDF's overall frequencies)."""
        ...

    @property
    def counted_activity(self) -> Mapping[int, int]:
        """Original items per bucket over all counted topics (for the global rate)."""
        ...

    def counted_size(self) -> int:
        """How many topics count."""
        ...

    def counted(self) -> list[TopicState]:
        """The counted topics, in the order they came to count."""
        ...

    def counted_of(self, topic_ids: Iterable[str]) -> list[TopicState]:
        """The counted topics among these ids, in their order."""
        ...

    def relabel(self, topic_id: str, keywords: list[str], label: str) -> None:
        """Give a topic new keywords and label (a change to save)."""
        ...

    def take_stale(self, topic_id: str) -> int | None:
        """The earliest bucket of a topic whose activity changed since the last call."""
        ...


class TopicMemory:
    """Every live topic, found by id (topics), by centroid (index) and by recent item.

    Each change to a topic goes through here, so that the index, the ledger of unsaved
    changes and the sums over the counted topics (those with `min_topic_size` members)
    stay in step with the topics.
    """

    def __init__(self, config: PipelineConfig, dimension: int) -> None:
        self.config = config
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
        self._counted_activity: Counter[int] = Counter()
        self._counted_terms: Counter[str] = Counter()
        self.items = Recent(config.remembered_items)
        """Recent items (originals and duplicates) and the topic each joined."""
        self.merged = Recent(config.remembered_items)
        """Absorbed topic -> the topic that absorbed it."""

    @property
    def counted_terms(self) -> Counter[str]:
        """Title terms summed over all counted topics (c-TF-IDF's overall frequencies)."""
        return self._counted_terms

    @property
    def counted_activity(self) -> Counter[int]:
        """Original items per bucket over all counted topics (for the global rate)."""
        return self._counted_activity

    def insert(self, topic: TopicState, position: int | None = None) -> None:
        """Hold a new topic, last (at the next position, or at a given one)."""
        self.topics[topic.topic_id] = topic
        self.ledger.place(topic.topic_id, position)
        self.index.put(topic.topic_id, topic.centroid)

    def restore(self, topic: TopicState, position: int | None = None) -> None:
        """Hold a saved topic again (at its saved position, else last), counted if it has
        enough members."""
        self.insert(topic, position)
        self._count(topic, Counter(), {})

    def forget(self, topic: TopicState) -> None:
        """Let a topic go (expired, archived or absorbed)."""
        del self.topics[topic.topic_id]
        if self.counted_ids.pop(topic.topic_id, 0) is None:
            self._counted_terms.subtract(topic.terms)
            drop_spent(self._counted_terms, topic.terms)
        self.index.remove(topic.topic_id)
        self.ledger.remove(topic.topic_id)

    def touch(self, topic_id: str) -> None:
        """Record that a topic changed (listed by the ledger until saved)."""
        self.ledger.touch(topic_id)

    def join(self, topic: TopicState, member: Member) -> None:
        """Add an original item to a topic."""
        bucket = bucket_of(member.evidence.at, self.config)
        joined = topic.join(member, bucket, self.config.max_topic_entities)
        self.items.remember(member.item_id, topic.topic_id)
        self.index.put(topic.topic_id, topic.centroid)
        self._count(topic, joined, {bucket: 1})
        self.touch(topic.topic_id)

    def absorb(self, kept: TopicState, absorbed: TopicState) -> None:
        """Merge a topic into another (the absorbed one's items now resolve to the kept)."""
        was_counted = absorbed.topic_id in self.counted_ids
        kept.absorb(absorbed, self.config.max_topic_entities)
        self.forget(absorbed)
        self.merged.remember(absorbed.topic_id, kept.topic_id)
        self.index.put(kept.topic_id, kept.centroid)
        added = {} if was_counted else {b: a.count for b, a in absorbed.activity.items()}
        self._count(kept, absorbed.terms, added)
        self.touch(kept.topic_id)

    def add_duplicate(self, item_id: str, topic: TopicState, at: datetime) -> None:
        """Record a duplicate in a topic (not a member again)."""
        topic.add_duplicate(at)
        self.items.remember(item_id, topic.topic_id)
        self.touch(topic.topic_id)

    def _count(self, topic: TopicState, joined: Counter[str], added: Mapping[int, int]) -> None:
        """Keep the counted topics' sums in step after title terms (`joined`) and items per
        bucket (`added`) joined `topic`; cap the topic's terms."""
        if topic.size < self.config.min_topic_size:
            capped(topic.terms, self.config.max_topic_terms)
            return
        if topic.topic_id in self.counted_ids:
            self._counted_activity.update(added)
            self._counted_terms.update(joined)
        else:
            self.counted_ids[topic.topic_id] = None
            self._counted_activity.update({b: a.count for b, a in topic.activity.items()})
            self._counted_terms.update(topic.terms)
        dropped = capped(topic.terms, self.config.max_topic_terms)
        self._counted_terms.subtract(dropped)
        drop_spent(self._counted_terms, dropped)

    def forget_activity_before(self, bucket: int) -> None:
        """Drop the counted activity of buckets older than `bucket`."""
        for old in [b for b in self._counted_activity if b < bucket]:
            del self._counted_activity[old]

    def live_topic_of(self, item_id: str) -> str | None:
        """The live topic a recent item (original or duplicate) belongs to now, if known."""
        topic_id = self.placed_in(item_id)
        return topic_id if topic_id in self.topics else None

    def placed_in(self, item_id: str) -> str | None:
        """The topic holding a recent item now, live or not (archived, expired)."""
        return self.resolve(self.items.get(item_id))

    def resolve(self, topic_id: str | None) -> str | None:
        """The topic that holds a topic's items now (itself, or the topic that absorbed it)."""
        for _ in range(len(self.merged)):  # a chain of merges, never a cycle
            if topic_id is None or topic_id not in self.merged:
                break
            topic_id = self.merged[topic_id]
        return topic_id

    def live(self, topic_ids: Iterable[str]) -> set[str]:
        """The live topics among these ids."""
        return set(topic_ids) & self.topics.keys()

    def is_counted(self, topic_id: str) -> bool:
        """Whether a topic counts (live, with at least `min_topic_size` members)."""
        return topic_id in self.counted_ids

    def counted_size(self) -> int:
        """How many topics count."""
        return len(self.counted_ids)

    def counted(self) -> list[TopicState]:
        """Topics with at least `min_topic_size` members: the ones that count in trends."""
        return [self.topics[topic_id] for topic_id in self.counted_ids]

    def counted_of(self, topic_ids: Iterable[str]) -> list[TopicState]:
        """The counted topics among these ids, in their order."""
        return [self.topics[t] for t in topic_ids if t in self.counted_ids]

    def relabel(self, topic_id: str, keywords: list[str], label: str) -> None:
        """Give a topic new keywords and label (a change to save)."""
        topic = self.topics[topic_id]
        topic.keywords, topic.label = keywords, label
        self.touch(topic_id)

    def take_stale(self, topic_id: str) -> int | None:
        """The earliest bucket of a topic whose activity changed since the last call."""
        topic = self.topics[topic_id]
        stale, topic.stale_from = topic.stale_from, None
        return stale

    def ordered(self) -> list[tuple[int, TopicState]]:
        """Every live topic with its position, in position order."""
        order = sorted(self.topics, key=self.ledger.position)
        return [(self.ledger.position(t), self.topics[t]) for t in order]
