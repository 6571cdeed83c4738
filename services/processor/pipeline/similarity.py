"""Item-to-topic similarity: embedding cosine plus evidence of which event (names, timing)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import Vectors
from services.processor.pipeline.entities import COMMON_WORDS, name_key

__all__ = [
    "TERMS",
    "Evidence",
    "Features",
    "Term",
    "TopicView",
    "features",
    "name_words",
    "saturating",
    "similarity",
]


_WORD_BREAK = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an item brings to topic assignment."""

    vector: Vectors
    """The item's unit-length embedding."""
    entities: Mapping[str, float]
    """The item's entities with their IDF weights."""
    at: datetime
    names: frozenset[str] = frozenset()
    """The item's entities written as proper names (see EntityExtractor.extract_names)."""


@dataclass(frozen=True, slots=True)
class TopicView:
    """What a topic offers for comparison with one item."""

    cosine: float
    """Cosine between the item and the topic's centroid."""
    identity: Sequence[tuple[str, float]] = ()
    """The topic's salient entities (named by at least `salient_share` of its members), each
    with its share times its IDF weight: what says which event the topic is."""
    names: Sequence[tuple[str, float]] = ()
    """The salient entities written as proper names, each with its share of the members."""
    recent: int = 0
    """The topic's items in the activity window before the item (see activity_window_hours)."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """How many of the topic's members name each entity."""
    size: int = 1
    """The topic's members."""
    words: frozenset[str] = frozenset()
    """The words of the salient entities (see name_words): a name sharing one with them is
    no stranger to the topic (`Hollow Meridian` and `Meridian`)."""


@dataclass(frozen=True, slots=True)
class Features:
    """The evidence for and against one item joining one topic."""

    cosine: float
    agreement: float
    """IDF-weighted cosine between the item's entities and the topic's salient ones, in [0, 1]."""
    absence: float
    """How much of the topic's identity the item does not name, in [0, 1]: s_max - s, where
    s_max is the largest share of the topic's members naming one proper name and s the
    largest such share among the names the item names too (0 for a topic without salient
    proper names, or an item naming its main one)."""
    conflict: float
    """Proper names at odds, in [0, 1]: absence times the item's own proper names outside
    the topic's salient entities (their IDF weight, less for names some members gave,
    saturating): the item names another provider, bank or country."""
    activity: float
    """The topic's items just before the item, saturating (see activity_saturation), in [0, 1]."""


@dataclass(frozen=True, slots=True)
class Term:
    """One piece of evidence in the similarity: a field of Features, weighed by a setting."""

    feature: str
    """The field of Features it reads."""
    weight: str
    """The PipelineConfig field that weighs it (fitted: see services.processor.fit)."""
    sign: int
    """+1: evidence for a join; -1: evidence against it."""


TERMS = (
    Term("agreement", "entity_weight", 1),
    Term("absence", "absence_weight", -1),
    Term("conflict", "mismatch_weight", -1),
    Term("activity", "time_weight", 1),
)
"""The weighed terms added to the cosine, in order (see similarity). A new piece of evidence
is a field of Features computed in features(), a Term here and its weight's setting."""


@lru_cache(maxsize=1 << 16)
def name_words(entity: str) -> frozenset[str]:
    """The words of an entity key, each keyed as a name (see entities.name_key), without
    connectors and common words: `hollow meridian` -> {hollow, meridi}."""
    return frozenset(
        name_key(word)
        for word in _WORD_BREAK.split(entity)
        if len(word) > 2 and word not in COMMON_WORDS
    )


def saturating(value: float, scale: float) -> float:
    """1 - exp(-value / scale): 0 at 0, 63 % at `scale`, approaching 1."""
    return 1 - math.exp(-value / scale)


def features(item: Evidence, topic: TopicView, config: PipelineConfig) -> Features:
    """The evidence for and against a join, from the item's names and the topic's.

    Conflict is large only when both sides hold proper names the other lacks: an item naming
    another provider, bank or country than the one most of the topic's members name. An item
    without names, one naming only the topic's names, or one adding a new name while naming
    the topic's own (`Governor Marrow` beside `Bank of Eldoria`) meets no conflict; nor does
    a topic whose members name a different town each (aurora sightings: no salient name), or
    whose salient entities are identifiers and words (`AR4298`, `sunspot`) rather than names.
    Costs O(entities of the item + salient entities of the topic) per candidate topic.
    """
    entities = item.entities
    dot = norm = 0.0
    for entity, weight in topic.identity:
        norm += weight * weight
        own = entities.get(entity)
        if own is not None:
            dot += own * weight
    agreement = 0.0
    if dot > 0:
        agreement = dot / math.sqrt(norm * sum(w * w for w in entities.values()))
    top = covered = 0.0
    for entity, share in topic.names:
        top = max(top, share)
        if entity in entities:
            covered = max(covered, share)
    absence, conflict = top - covered, 0.0
    if absence > 0 and topic.size >= config.min_topic_size:
        known, counts, floor = topic.words, topic.counts, config.salient_share * topic.size
        foreign = sum(
            entities[name] * max(0.0, 1 - counts.get(name, 0) / floor)
            for name in item.names
            if name in entities and known.isdisjoint(name_words(name))
        )
        conflict = saturating(foreign, config.entity_saturation) * absence
    return Features(
        topic.cosine,
        agreement,
        absence,
        conflict,
        saturating(topic.recent, config.activity_saturation),
    )


def similarity(item: Evidence, topic: TopicView, config: PipelineConfig) -> float:
    """The combined similarity an item needs above `join_threshold` to join a topic.

    cosine + entity_weight * agreement - absence_weight * absence
           - mismatch_weight * conflict + time_weight * activity

    (see features; the terms are TERMS). The weights are those of a logistic regression of
    "same story" on these features, fitted on the tuning corpus's item/topic pairs
    (services.processor.fit), divided by the cosine's coefficient so that the score reads in
    cosine units.
    """
    found = features(item, topic, config)
    score = found.cosine
    for term in TERMS:
        score += term.sign * getattr(config, term.weight) * getattr(found, term.feature)
    return score
