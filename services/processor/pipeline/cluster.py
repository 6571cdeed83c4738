"""The online clusterer: places items in topics, merges, expires and revives them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from services.processor.pipeline.archive import TopicArchive
from services.processor.pipeline.assign import best_topic, new_topic
from services.processor.pipeline.codec import (
    decode_archived,
    decode_state,
    encode_state,
    encode_topic,
)
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.expiry import Expiry
from services.processor.pipeline.index import IndexSearch
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.merge import Merger
from services.processor.pipeline.revival import Revival
from services.processor.pipeline.similarity import Evidence
from services.processor.pipeline.strays import Strays
from services.processor.pipeline.topic import Member, TopicState, bucket_of

__all__ = ["Member", "OnlineClusterer", "TopicChanges", "TopicState", "bucket_of"]


@dataclass(frozen=True)
class TopicChanges:
    """The topics changed or removed since the last save (see OnlineClusterer.changes)."""

    changed: list[tuple[int, dict[str, Any]]]
    """(position, codec.encode_topic()) of each topic changed: `position` orders the topics
    as the clusterer holds them, so that a restore holds them in the same order."""
    removed: list[str]
    archived: list[str] = field(default_factory=list)
    """Topics that left memory, their saved state kept (see TopicArchive)."""
    versions: dict[str, int] = field(default_factory=dict, repr=False)
    """The change count of each topic listed, to acknowledge exactly these changes."""


class OnlineClusterer:
    """Assigns each item to the most similar topic with enough evidence, else a new candidate.

    It coordinates and delegates: the topics live in a TopicMemory (topics, index, ledger,
    counted sums), assignment picks the best topic near an item (assign), a Merger merges
    converged topics, Expiry archives quiet ones into the TopicArchive, and Revival takes
    them back. Every step costs the same however many topics are live: nearest topics come
    from the memory's index, expiry runs once per bucket, and per-topic state is bounded.
    Labels and trends read it as CountedTopics (see memory).
    """

    def __init__(
        self,
        config: PipelineConfig,
        stats: EntityStats | None = None,
        dimension: int = 384,
        *,
        keep_archived: bool = False,
    ) -> None:
        self.config = config
        self.stats = stats or EntityStats()
        self.memory = TopicMemory(config, dimension)
        self.archive = TopicArchive(
            dimension, timedelta(hours=config.topic_retention_hours), config.archive_capacity
        )
        self.merger = Merger(self.memory, self.stats, config)
        self.strays = Strays(self.memory, self.stats, config)
        self.expiry = Expiry(self.memory, self.archive, config, keep_states=keep_archived)
        self.revival = Revival(self.memory, self.archive, self.stats, config)
        self.created: dict[str, Evidence] = {}
        """Candidates started since the stage last looked, with the item that started each
        (see take_created)."""

    @property
    def topics(self) -> dict[str, TopicState]:
        """The live topics by id (read them; change them through the clusterer)."""
        return self.memory.topics

    @property
    def archived_states(self) -> dict[str, dict[str, Any]] | None:
        """Archived topics' states, when kept in memory (else they are only saved)."""
        return self.expiry.states

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of every topic, with its position, to persist (see restore)."""
        return encode_state(self.memory.ordered(), self.archive.entries())

    @classmethod
    def restore(
        cls,
        config: PipelineConfig,
        state: dict[str, Any],
        stats: EntityStats | None = None,
        *,
        saved: bool = True,
        dimension: int = 384,
        keep_archived: bool = False,
    ) -> OnlineClusterer:
        """A clusterer holding the topics saved by state() (or by changes(), read back), in
        their order; with `saved` False they all count as changed (the next changes() lists
        every one)."""
        clusterer = cls(config, stats, dimension, keep_archived=keep_archived)
        for position, topic in decode_state(state):
            clusterer.memory.restore(topic, position)
            if not saved:
                clusterer.touch(topic.topic_id)
        for topic_id, centroid, at in decode_archived(state):
            clusterer.archive.add(topic_id, centroid, at)
        clusterer.memory.index.commit()
        return clusterer

    def touch(self, topic_id: str) -> None:
        """Record that a topic changed (it is listed by the next changes())."""
        self.memory.touch(topic_id)

    def changes(self) -> TopicChanges:
        """The topics changed (JSON-ready, with their positions) or removed since the last
        acknowledged save (see saved)."""
        pending = self.memory.ledger.pending()
        changed = [(position, encode_topic(self.topics[t])) for position, t in pending.changed]
        return TopicChanges(changed, pending.removed, pending.archived, pending.versions)

    def saved(self, changes: TopicChanges) -> None:
        """Acknowledge saved changes: topics changed again since are still listed next time."""
        self.memory.ledger.saved(changes.versions)

    def restore_topic(self, topic: TopicState, position: int | None = None) -> None:
        """Hold a saved topic again (at its saved position, else last)."""
        self.memory.restore(topic, position)

    def topic_of(self, item_id: str) -> str | None:
        """The live topic a recent item (original or duplicate) belongs to now, if known."""
        return self.memory.live_topic_of(item_id)

    def placed_in(self, item_id: str) -> str | None:
        """The topic holding a recent item now, live or not (archived, expired)."""
        return self.memory.placed_in(item_id)

    def counted_topic_of(self, item_id: str) -> str | None:
        """The counted topic a recent item belongs to, live or archived, if any."""
        topic_id = self.memory.placed_in(item_id)
        counted = topic_id is not None and self.memory.is_counted(topic_id)
        return topic_id if counted or self.expiry.is_archived(topic_id) else None

    def resolve(self, topic_id: str | None) -> str | None:
        """The topic that holds a topic's items now (itself, or the topic that absorbed it)."""
        return self.memory.resolve(topic_id)

    def search(self, vectors: Vectors) -> IndexSearch:
        """Nearest-topic lookups for a batch of embeddings (one row each)."""
        return self.memory.index.search(vectors)

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
        evidence = member.evidence
        if near is None:
            near = self.near(evidence.vector)
        topic = best_topic(self.topics, evidence, near, self.stats, self.config)
        if topic is None:
            topic = new_topic(member)
            self.memory.insert(topic)
            self.created[topic.topic_id] = evidence
        self.memory.join(topic, member)
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
        if item_id in self.memory.items:
            return self.topic_of(item_id)
        self.memory.add_duplicate(item_id, self.topics[topic_id], at)
        return topic_id

    def expire(self, now: datetime) -> list[str]:
        """Forget stale candidates, archive quiet topics (once per bucket: see Expiry);
        return the ids that left memory."""
        return self.expiry.expire(now)

    def merge_converged(self, touched: Iterable[str] | None = None) -> dict[str, str]:
        """Merge topics whose centroids and entity profiles converged; return absorbed -> kept
        (only pairs with a topic in `touched` are examined; all when None)."""
        return self.merger.merge_converged(touched)

    def home_strays(self, grown: Iterable[str]) -> dict[str, str]:
        """Candidates near the counted topics that grew join one when their evidence now
        passes (see Strays); return absorbed -> kept."""
        return self.strays.home(grown)

    def commit(self) -> None:
        """End of a batch: the index takes the centroids that moved."""
        self.memory.index.commit()

    def take_created(self) -> dict[str, Evidence]:
        """The candidates started since the last call (still live), each with the evidence
        of the item that started it."""
        created = {t: e for t, e in self.created.items() if t in self.topics}
        self.created.clear()
        return created

    def has_archived(self) -> bool:
        """Whether any topic is archived (its centroid kept)."""
        return len(self.archive) > 0

    def archived_near(self, vectors: Vectors, floor: float) -> list[list[str]]:
        """For each vector (one per row), the archived topics at least `floor` close to it,
        closest first."""
        return self.revival.archived_near(vectors, floor)

    def archived_close_to(self, topic_ids: list[str], floor: float) -> list[list[str]]:
        """For each live topic, the archived topics at least `floor` close to its centroid."""
        vectors = np.stack([self.topics[t].centroid for t in topic_ids])
        return self.revival.archived_near(vectors, floor)

    def take_back(self, saved: Mapping[str, dict[str, Any]]) -> list[str]:
        """Hold archived topics again from their saved states (see Revival.take_back)."""
        return self.revival.take_back(saved)

    def join_back(
        self, candidate: str, archived: Iterable[str], evidence: Evidence
    ) -> dict[str, str]:
        """Merge a candidate into the archived topic taken back that its first item would
        have joined (see Revival.join_back); return absorbed -> kept."""
        return self.revival.join_back(candidate, archived, evidence)

    def live(self, topic_ids: Iterable[str]) -> set[str]:
        """The live topics among these ids."""
        return self.memory.live(topic_ids)

    def is_counted(self, topic_id: str) -> bool:
        """Whether a topic counts (live, with at least `min_topic_size` members)."""
        return self.memory.is_counted(topic_id)

    def counted(self) -> list[TopicState]:
        """Topics with at least `min_topic_size` members: the ones that count in trends."""
        return self.memory.counted()

    def counted_of(self, topic_ids: Iterable[str]) -> list[TopicState]:
        """The counted topics among these ids, in their order."""
        return self.memory.counted_of(topic_ids)

    def counted_size(self) -> int:
        """How many topics count."""
        return self.memory.counted_size()

    @property
    def counted_terms(self) -> Mapping[str, int]:
        """Title terms summed over all counted topics (see CountedTopics)."""
        return self.memory.counted_terms

    @property
    def counted_activity(self) -> Mapping[int, int]:
        """Original items per bucket over all counted topics (see CountedTopics)."""
        return self.memory.counted_activity

    def relabel(self, topic_id: str, keywords: list[str], label: str) -> None:
        """Give a topic new keywords and label (a change to save)."""
        self.memory.relabel(topic_id, keywords, label)

    def take_stale(self, topic_id: str) -> int | None:
        """The earliest bucket of a topic whose activity changed since the last call."""
        return self.memory.take_stale(topic_id)
