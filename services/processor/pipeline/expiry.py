"""Expiry: stale candidates forgotten, quiet topics moved from memory to the archive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.processor.pipeline.archive import TopicArchive
from services.processor.pipeline.codec import encode_topic
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.topic import TopicState, bucket_of

__all__ = ["Expiry"]


class Expiry:
    """Once per bucket: candidates below `min_topic_size` without items for
    `candidate_ttl_hours` are forgotten; counted topics without items for `live_topic_hours`
    are archived (their centroid kept in the TopicArchive, their state saved, and kept in
    `states` too when the stage keeps archived states in memory)."""

    def __init__(
        self,
        memory: TopicMemory,
        archive: TopicArchive,
        config: PipelineConfig,
        *,
        keep_states: bool = False,
    ) -> None:
        self.memory = memory
        self.archive = archive
        self.config = config
        self.states: dict[str, dict[str, Any]] | None = {} if keep_states else None
        """Archived topics' saved states, when kept in memory (else they are only saved)."""
        self._expired_at: int | None = None
        """The bucket of the last expiry pass."""

    def expire(self, now: datetime) -> list[str]:
        """Forget stale candidates, archive quiet topics (once per bucket); return the ids
        that left memory."""
        bucket = bucket_of(now, self.config)
        if bucket == self._expired_at:
            return []
        self._expired_at = bucket
        stale = self._stale(now)
        for topic in stale:
            if self.memory.is_counted(topic.topic_id):
                self._archive(topic)
            else:
                self.memory.forget(topic)
        for topic_id in self.archive.prune(now):
            self.memory.ledger.remove(topic_id)
            if self.states is not None:
                self.states.pop(topic_id, None)
        config = self.config
        self.memory.forget_activity_before(
            bucket - config.window_buckets * (config.baseline_windows + 1)
        )
        return [topic.topic_id for topic in stale]

    def _stale(self, now: datetime) -> list[TopicState]:
        candidate_ttl = timedelta(hours=self.config.candidate_ttl_hours)
        quiet = timedelta(hours=self.config.live_topic_hours)
        minimum = self.config.min_topic_size
        return [
            topic
            for topic in self.memory.topics.values()
            if now - topic.last_active > (candidate_ttl if topic.size < minimum else quiet)
        ]

    def _archive(self, topic: TopicState) -> None:
        if self.states is not None:
            self.states[topic.topic_id] = encode_topic(topic)
        self.memory.forget(topic)
        self.memory.ledger.archive(topic.topic_id)
        self.archive.add(topic.topic_id, topic.centroid, topic.last_active)

    def is_archived(self, topic_id: str | None) -> bool:
        """Whether a topic is archived (its centroid kept, or its state kept in memory)."""
        return topic_id in self.archive or topic_id in (self.states or {})
