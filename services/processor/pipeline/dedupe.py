"""Duplicate detection: exact (identity, content hash) and near (embedding cosine)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.pipeline.recent import Recent
from streams.messages.items import content_hash

__all__ = [
    "ExactDeduper",
    "NearDuplicateIndex",
    "entity_agreement",
]


class ExactDeduper:
    """Finds items seen before: the same (source, source_id), or the same normalised content."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._by_id = Recent(capacity)
        self._by_hash = Recent(capacity)

    def original_of(self, item: NormalizedItem) -> str | None:
        """The id of the item this one repeats, or None if it is new."""
        if item.item_id in self._by_id:
            return self._by_id[item.item_id]
        return self._by_hash.get(content_hash(item.title, item.text))

    def remember(self, item: NormalizedItem, original: str) -> None:
        """Record an item as a copy of `original` (its own id for an original item)."""
        self._by_id.remember(item.item_id, original)
        self._by_hash.remember(content_hash(item.title, item.text), original)


def entity_agreement(first: Mapping[str, float], second: Mapping[str, float]) -> float:
    """Weight of the shared entities over the weight of the smaller entity set (1 if none)."""
    smaller = min(sum(first.values()), sum(second.values()))
    if smaller <= 0:
        return 1.0
    shared = sum(min(first[e], second[e]) for e in first.keys() & second.keys())
    return shared / smaller


@dataclass(frozen=True, slots=True)
class _Entry:
    item_id: str
    at: datetime
    entities: Mapping[str, float]


class NearDuplicateIndex:
    """Recent original items' embeddings, searched by cosine for near-duplicates.

    Each entry remembers the topic its item joined: a search can be limited to the entries
    of the topics near the item (a near-duplicate's original is in one of them), so it costs
    the same with 20,000 entries as with 200.
    """

    def __init__(
        self, dimension: int, threshold: float, min_overlap: float, window: timedelta, capacity: int
    ) -> None:
        self.threshold, self.min_overlap, self.window = threshold, min_overlap, window
        self._vectors: Vectors = np.zeros((capacity, dimension), dtype=np.float32)
        self._entries: list[_Entry | None] = [None] * capacity
        self._topics: list[str | None] = [None] * capacity
        self._by_topic: dict[str, set[int]] = {}
        self._next = 0

    @property
    def filled(self) -> int:
        """Rows of the index holding an entry."""
        return min(self._next, len(self._entries))

    def original_of(
        self,
        vector: Vectors,
        at: datetime,
        entities: Mapping[str, float],
        topics: Iterable[str] | None = None,
    ) -> str | None:
        """The most similar recent item above the threshold that names the same entities,
        among the entries of `topics` (every entry when None)."""
        if topics is None:
            rows = np.arange(self.filled)
        else:
            found = [row for topic in topics for row in self._by_topic.get(topic, ())]
            rows = np.asarray(found, dtype=np.int64)
        if not len(rows):
            return None
        similarities = self._vectors[rows] @ vector
        candidates = np.flatnonzero(similarities >= self.threshold)
        for index in candidates[np.argsort(-similarities[candidates], kind="stable")]:
            entry = self._entries[int(rows[index])]
            if entry is not None and self._matches(entry, at, entities):
                return entry.item_id
        return None

    def _matches(self, entry: _Entry, at: datetime, entities: Mapping[str, float]) -> bool:
        recent = abs(at - entry.at) <= self.window
        return recent and entity_agreement(entities, entry.entities) >= self.min_overlap

    def add(
        self,
        item_id: str,
        vector: Vectors,
        at: datetime,
        entities: Mapping[str, float],
        topic: str | None = None,
    ) -> int:
        """Index an original item, in the topic it joined (the oldest entry makes room when
        full); return its row."""
        row = self._next % len(self._entries)
        self._leave(row)
        self._vectors[row] = vector
        self._entries[row] = _Entry(item_id, at, dict(entities))
        self._topics[row] = topic
        if topic is not None:
            self._by_topic.setdefault(topic, set()).add(row)
        self._next += 1
        return row

    def _leave(self, row: int) -> None:
        topic = self._topics[row]
        if topic is not None and topic in self._by_topic:
            self._by_topic[topic].discard(row)
            if not self._by_topic[topic]:
                del self._by_topic[topic]

    def merge(self, absorbed: str, kept: str) -> None:
        """The entries of a topic absorbed by another now belong to it."""
        rows = self._by_topic.pop(absorbed, set())
        for row in rows:
            self._topics[row] = kept
        if rows:
            self._by_topic.setdefault(kept, set()).update(rows)

    def forget(self, topics: Iterable[str]) -> None:
        """Entries of topics that are gone are no longer searched."""
        for topic in topics:
            for row in self._by_topic.pop(topic, set()):
                self._topics[row] = None
