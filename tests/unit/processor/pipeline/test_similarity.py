"""Item-to-topic similarity: cosine plus shared names, minus unexplained names, plus activity."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.similarity import (
    Evidence,
    TopicView,
    entity_evidence,
    saturating,
    similarity,
)

CONFIG = PipelineConfig()
AT = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
VECTOR = np.ones(4, dtype=np.float32) / 2


def _score(entities: dict[str, float], profile: dict[str, float], recent: int = 0) -> float:
    return similarity(Evidence(VECTOR, entities, AT), TopicView(0.4, profile, recent), CONFIG)


def test_an_item_without_names_is_judged_on_cosine_and_timing() -> None:
    assert _score({}, {"nimbus": 1.0}) == pytest.approx(0.4)
    assert _score({}, {}, recent=4) == pytest.approx(0.4 + CONFIG.time_weight * (1 - np.exp(-1)))


def test_shared_rare_names_pull_an_item_in() -> None:
    shared = _score({"stratus": 4.0}, {"stratus": 0.9})
    assert shared > CONFIG.join_threshold > _score({}, {"stratus": 0.9})


def test_names_the_topic_lacks_push_an_item_away() -> None:
    assert _score({"stratus": 4.0, "frankfurt": 4.0, "eu": 4.0}, {"nimbus": 1.0}) < 0.4
    assert _score({"stratus": 4.0}, {"nimbus": 1.0}) > _score(
        {"stratus": 4.0, "frankfurt": 4.0, "eu": 4.0}, {"nimbus": 1.0}
    )


def test_a_topic_in_full_swing_attracts_related_items() -> None:
    assert _score({}, {}, recent=10) > _score({}, {}, recent=1) > _score({}, {})


def test_entity_evidence_weights_names_by_their_share_in_the_topic() -> None:
    assert entity_evidence({"a": 4.0, "b": 2.0}, {"a": 0.5, "c": 1.0}) == 2.0


def test_saturating_rises_to_one() -> None:
    assert saturating(0, 3) == 0
    assert saturating(3, 3) == pytest.approx(1 - np.exp(-1))
    assert saturating(100, 3) == pytest.approx(1)
