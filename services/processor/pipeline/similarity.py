"""Item-to-topic similarity: embedding cosine plus evidence of which event (entities, time)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors

__all__ = ["Evidence", "TopicView", "entity_evidence", "saturating", "similarity"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an item brings to topic assignment."""

    vector: Vectors
    """The item's unit-length embedding."""
    entities: Mapping[str, float]
    """The item's entities with their IDF weights."""
    at: datetime


@dataclass(frozen=True, slots=True)
class TopicView:
    """What a topic offers for comparison."""

    cosine: float
    """Cosine between the item and the topic's centroid."""
    profile: Mapping[str, float]
    """Share of the topic's members naming each entity."""
    recent: int
    """The topic's items in the activity window before the item (see activity_window_hours)."""


def saturating(value: float, scale: float) -> float:
    """1 - exp(-value / scale): 0 at 0, 63 % at `scale`, approaching 1."""
    return 1 - math.exp(-value / scale)


def entity_evidence(item: Mapping[str, float], profile: Mapping[str, float]) -> float:
    """IDF weight of the item's entities the topic names, each times the share naming it."""
    return sum(weight * profile.get(entity, 0.0) for entity, weight in item.items())


def similarity(item: Evidence, topic: TopicView, config: PipelineConfig) -> float:
    """The combined similarity an item needs above `join_threshold` to join a topic.

    cosine + entity_weight * (1 - exp(-shared / entity_saturation))
           - mismatch_weight * min(1, mass / entity_full_mass) * (1 - shared / mass)
           + time_weight * (1 - exp(-recent / activity_saturation))

    `shared` is entity_evidence, `mass` the item's summed entity weight and `recent` the
    topic's items in the hours just before: shared rare names pull an item towards a topic;
    an item rich in names the topic lacks is pushed away; a topic in full swing right now
    (a burst) attracts related items; an item without names is judged on embedding and timing.
    """
    shared = entity_evidence(item.entities, topic.profile)
    mass = sum(item.entities.values())
    support = saturating(shared, config.entity_saturation)
    unexplained = 1 - min(1.0, shared / mass) if mass > 0 else 0.0
    mismatch = min(1.0, mass / config.entity_full_mass) * unexplained
    activity = saturating(topic.recent, config.activity_saturation)
    return (
        topic.cosine
        + config.entity_weight * support
        - config.mismatch_weight * mismatch
        + config.time_weight * activity
    )
