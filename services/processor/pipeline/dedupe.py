"""Duplicate detection: exact (identity, content hash) and near (embedding cosine)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.normalize import NormalizedItem

__all__ = [
    "BatchSearch",
    "ExactDeduper",
    "NearDuplicateIndex",
    "content_hash",
    "entity_agreement",
]


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the case-folded, whitespace-collapsed title and text."""
    content = " ".join(f"{title}\n{text}".casefold().split())
    return hashlib.sha256(content.encode()).hexdigest()


class _BoundedMap(OrderedDict[str, str]):
    """A mapping forgetting its oldest keys beyond a capacity."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def remember(self, key: str, value: str) -> None:
        self[key] = value
        while len(self) > self.capacity:
            self.popitem(last=False)


class ExactDeduper:
    """Finds items seen before: the same (source, source_id), or the same normalised content."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._by_id = _BoundedMap(capacity)
        self._by_hash = _BoundedMap(capacity)

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
    """Recent original items' embeddings, searched by cosine for near-duplicates."""

    def __init__(
        self, dimension: int, threshold: float, min_overlap: float, window: timedelta, capacity: int
    ) -> None:
        self.threshold, self.min_overlap, self.window = threshold, min_overlap, window
        self._vectors: Vectors = np.zeros((capacity, dimension), dtype=np.float32)
        self._entries: list[_Entry | None] = [None] * capacity
        self._next = 0

    def original_of(
        self, vector: Vectors, at: datetime, entities: Mapping[str, float]
    ) -> str | None:
        """The most similar recent item above the threshold that names the same entities."""
        return self._best(self._vectors[: self.filled] @ vector, at, entities)

    @property
    def filled(self) -> int:
        """Rows of the index holding an entry."""
        return min(self._next, len(self._entries))

    def batch(self, vectors: Vectors) -> BatchSearch:
        """A search for a batch's items (one row of `vectors` each), with one matrix product."""
        return BatchSearch(self, vectors)

    def _best(
        self, similarities: Vectors, at: datetime, entities: Mapping[str, float]
    ) -> str | None:
        """The matching entry of highest similarity (row i of the index: similarities[i])."""
        candidates = np.flatnonzero(similarities >= self.threshold)
        for row in candidates[np.argsort(-similarities[candidates])]:
            entry = self._entries[row]
            if entry is not None and self._matches(entry, at, entities):
                return entry.item_id
        return None

    def _matches(self, entry: _Entry, at: datetime, entities: Mapping[str, float]) -> bool:
        recent = abs(at - entry.at) <= self.window
        return recent and entity_agreement(entities, entry.entities) >= self.min_overlap

    def add(
        self, item_id: str, vector: Vectors, at: datetime, entities: Mapping[str, float]
    ) -> int:
        """Index an original item (the oldest entry makes room when full); return its row."""
        row = self._next % len(self._entries)
        self._vectors[row] = vector
        self._entries[row] = _Entry(item_id, at, dict(entities))
        self._next += 1
        return row


class BatchSearch:
    """Near-duplicate search for one batch: the batch's similarities to the index, and to
    itself, each in one matrix product; then one decision per item, in order.

    An item added to the index during the batch (see add) is searched by the later items
    of the batch exactly as if each item had been searched one by one: its row's similarity
    is taken from the batch's own product.
    """

    def __init__(self, index: NearDuplicateIndex, vectors: Vectors) -> None:
        self.index = index
        self.vectors = vectors
        self._to_index = index._vectors[: index.filled] @ vectors.T
        self._to_batch = vectors @ vectors.T
        self._added: dict[int, int] = {}
        """Index rows written during the batch -> the batch position written there."""

    def original_of(self, position: int, at: datetime, entities: Mapping[str, float]) -> str | None:
        """NearDuplicateIndex.original_of for the batch's item at `position`."""
        similarities = np.empty(self.index.filled, dtype=np.float32)
        known = min(len(self._to_index), len(similarities))
        similarities[:known] = self._to_index[:known, position]
        for row, added in self._added.items():
            similarities[row] = self._to_batch[added, position]
        return self.index._best(similarities, at, entities)

    def add(self, position: int, item_id: str, at: datetime, entities: Mapping[str, float]) -> None:
        """Index the batch's item at `position` (NearDuplicateIndex.add)."""
        row = self.index.add(item_id, self.vectors[position], at, entities)
        self._added[row] = position
