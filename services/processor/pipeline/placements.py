"""Placements: where each item of a run ended, its topic's merges followed to the end."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.processor.pipeline.results import BatchResult

__all__ = ["Placements", "resolve"]


def resolve(topic: str | None, merged: Mapping[str, str]) -> str | None:
    """The topic holding a topic's items at the end (itself, or the one that absorbed it)."""
    for _ in range(len(merged) + 1):  # a chain of merges, never a cycle
        if topic is None or topic not in merged:
            break
        topic = merged[topic]
    return topic


class Placements:
    """The batches' results of one run, gathered: each item's topic, the merges, and which
    topics were ever counted (had `min_topic_size` members, so were saved and announced)."""

    def __init__(self) -> None:
        self.joined: dict[str, str] = {}
        self.merged: dict[str, str] = {}
        self.counted: set[str] = set()

    def add(self, result: BatchResult) -> None:
        """Take in one batch's outcomes, merges and counted topics."""
        self.merged.update(result.merged)
        self.counted.update(topic.topic_id for topic in result.topics)
        self.joined.update({o.item_id: o.topic_id for o in result.outcomes if o.topic_id})

    def final(self, keys: Iterable[str]) -> dict[str, str | None]:
        """Each item's counted topic at the end (None: in no counted topic)."""
        found = {key: resolve(self.joined.get(key), self.merged) for key in keys}
        return {key: topic if topic in self.counted else None for key, topic in found.items()}
