"""Revival: archived topics taken back into memory when their story returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.processor.pipeline.archive import TopicArchive
from services.processor.pipeline.assign import best_topic
from services.processor.pipeline.codec import decode_topic
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.merge import seniority
from services.processor.pipeline.similarity import Evidence

__all__ = ["Revival"]


class Revival:
    """Finds the archived topics a story may continue, takes them back, and joins a new
    candidate to the one its first item would have joined had it stayed live."""

    def __init__(
        self,
        memory: TopicMemory,
        archive: TopicArchive,
        stats: EntityStats,
        config: PipelineConfig,
    ) -> None:
        self.memory = memory
        self.archive = archive
        self.stats = stats
        self.config = config

    def archived_near(self, vectors: Vectors, floor: float) -> list[list[str]]:
        """For each vector (one per row), the archived topics at least `floor` close to it,
        closest first."""
        return self.archive.closest(vectors, floor)

    def take_back(self, saved: Mapping[str, dict[str, Any]]) -> list[str]:
        """Hold archived topics again, from their saved states (by id); return those taken
        (topics live already or no longer archived are left)."""
        taken = []
        for topic_id, state in saved.items():
            if topic_id in self.archive and topic_id not in self.memory.topics:
                self.archive.remove(topic_id)
                self.memory.restore(decode_topic(state))
                self.memory.touch(topic_id)
                taken.append(topic_id)
        return taken

    def join_back(
        self, candidate: str, archived: Iterable[str], evidence: Evidence
    ) -> dict[str, str]:
        """Merge a candidate into the topic taken back from the archive that the item that
        started the candidate would have joined (had they been live); return absorbed -> kept
        (empty when it stays apart)."""
        topics = self.memory.topics
        new = topics.get(candidate)
        back = [topics[t] for t in archived if t in topics and t != candidate]
        if new is None or not back:
            return {}
        near = [(topic.topic_id, float(evidence.vector @ topic.centroid)) for topic in back]
        ordered = sorted(near, key=lambda pair: -pair[1])
        old = best_topic(topics, evidence, ordered, self.stats, self.config)
        if old is None:
            return {}
        kept, absorbed = sorted((new, old), key=seniority)
        self.memory.absorb(kept, absorbed)
        return {absorbed.topic_id: kept.topic_id}
