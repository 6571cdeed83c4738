"""Strays: candidates left beside a topic that grew get a second look and may join it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from services.processor.pipeline.assign import best_topic
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.similarity import Evidence
from services.processor.pipeline.topic import TopicState

__all__ = ["Strays", "evidence_of"]


def evidence_of(candidate: TopicState, stats: EntityStats) -> Evidence:
    """What a candidate's members bring, as one item would (exactly its item's, for a
    candidate of one): centroid, entities with today's weights, proper names, latest time."""
    return Evidence(
        candidate.centroid,
        stats.weights(candidate.entity_counts),
        candidate.last_active,
        frozenset(candidate.name_counts),
    )


class Strays:
    """A post judged alone when its story's topic was small may belong to it once the topic
    has grown: its centroid moved, its names and activity filled in. After each batch, the
    candidates (below `min_topic_size`: not announced, so still provisional) near a counted
    topic that grew are compared with it again, with the same similarity and threshold as
    an arriving item; one that passes joins its best such topic.
    """

    def __init__(self, memory: TopicMemory, stats: EntityStats, config: PipelineConfig) -> None:
        self.memory = memory
        self.stats = stats
        self.config = config

    def home(self, grown: Iterable[str]) -> dict[str, str]:
        """Second looks for the candidates near the counted topics in `grown`; return the
        candidates absorbed -> the topic each joined."""
        memory, topics = self.memory, self.memory.topics
        grown_ids = sorted(t for t in grown if memory.is_counted(t))
        if not grown_ids:
            return {}
        centroids = np.stack([topics[t].centroid for t in grown_ids])
        search = memory.index.search(centroids)
        floor = self.config.min_embedding_similarity
        near: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for position, topic_id in enumerate(grown_ids):
            centroid = topics[topic_id].centroid
            for other, _ in search.near(position, centroid, floor):
                stray = topics.get(other)
                if stray is not None and stray.size == 1 and not memory.is_counted(other):
                    near[other].append((topic_id, float(stray.centroid @ centroid)))
        homed: dict[str, str] = {}
        for stray_id in sorted(near):
            stray = topics[stray_id]
            options = sorted(near[stray_id], key=lambda pair: -pair[1])
            live = [(t, c) for t, c in options if t in topics and memory.is_counted(t)]
            best = best_topic(topics, evidence_of(stray, self.stats), live, self.stats, self.config)
            if best is not None:
                memory.absorb(best, stray)
                homed[stray_id] = best.topic_id
        return homed
