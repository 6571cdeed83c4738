"""Assignment: the topic an item joins, the best of the topics near it, else a new one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

import numpy as np

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.similarity import Evidence, saturating, similarity
from services.processor.pipeline.topic import Member, TopicState, bucket_of

__all__ = ["best_topic", "new_topic"]

_TOPIC_IDS = uuid.UUID("6f1c2a52-27c4-4d4b-9a3e-5b0f8f4e7d21")


def best_topic(
    topics: Mapping[str, TopicState],
    evidence: Evidence,
    near: Iterable[tuple[str, float]],
    stats: EntityStats,
    config: PipelineConfig,
) -> TopicState | None:
    """The topic among `near` ((topic id, cosine), closest first) whose similarity with the
    item is highest and at least `join_threshold`; None when there is none."""
    best, best_score = None, config.join_threshold
    last = bucket_of(evidence.at, config)
    first = last - round(config.activity_window_hours * 60 / config.bucket_minutes)
    penalties = config.absence_weight >= 0 and config.mismatch_weight >= 0
    for topic_id, cosine in near:
        topic = topics[topic_id]
        recent = topic.recent(first, last)
        bound = cosine + config.time_weight * saturating(recent, config.activity_saturation)
        if penalties and bound < best_score and topic.shares_none(evidence.entities):
            continue  # no entity in common: no agreement, and names only lower the score
        view = topic.view(
            cosine, first, last, stats=stats, min_share=config.salient_share, recent=recent
        )
        score = similarity(evidence, view, config)
        if score >= best_score:
            best, best_score = topic, score
    return best


def new_topic(member: Member) -> TopicState:
    """An empty candidate topic started by an item (its id derived from the item's)."""
    topic_id = uuid.uuid5(_TOPIC_IDS, member.item_id).hex
    at = member.evidence.at
    return TopicState(topic_id, at, at, np.zeros_like(member.evidence.vector))
