"""Merging: topics whose centroids and entity profiles converged become one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.entities import EntityStats, profile_similarity
from services.processor.pipeline.index import IndexSearch
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.topic import TopicState

__all__ = ["Merger", "seniority"]


def seniority(topic: TopicState) -> tuple[int, datetime, str]:
    """The larger (then older) of two merging topics keeps its id."""
    return -topic.size, topic.created_at, topic.topic_id


class Merger:
    """Finds the converged pairs among the topics that changed and merges them in memory."""

    def __init__(self, memory: TopicMemory, stats: EntityStats, config: PipelineConfig) -> None:
        self.memory = memory
        self.stats = stats
        self.config = config

    def merge_converged(self, touched: Iterable[str] | None = None) -> dict[str, str]:
        """Merge topics whose centroids and entity profiles converged; return absorbed -> kept.

        Only pairs with a topic in `touched` (those that changed) are examined; all when None.
        """
        topics = self.memory.topics
        pending = sorted(set(topics if touched is None else touched) & topics.keys())
        first = {topic_id: n for n, topic_id in enumerate(pending)}
        centroids = np.stack([topics[t].centroid for t in pending]) if pending else None
        search = self.memory.index.search(centroids) if centroids is not None else None
        merged: dict[str, str] = {}
        while pending:
            topic = topics[pending.pop(0)]
            known = first.get(topic.topic_id)
            lookup = search if search is not None and known is not None else None
            other = self._converged_with(topic, lookup, known or 0)
            if other is None:
                continue
            kept, absorbed = sorted((topic, other), key=seniority)
            self.memory.absorb(kept, absorbed)
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
            search, position = self.memory.index.search(topic.centroid.reshape(1, -1)), 0
        floor = self.config.merge_centroid_similarity
        for topic_id, _ in search.near(position, topic.centroid, floor):
            other = self.memory.topics[topic_id]
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


def _final(topic_id: str, absorbed: TopicState, kept: TopicState) -> str:
    return kept.topic_id if topic_id == absorbed.topic_id else topic_id


def _salient(profile: dict[str, float], min_share: float) -> dict[str, float]:
    return {entity: share for entity, share in profile.items() if share >= min_share}
