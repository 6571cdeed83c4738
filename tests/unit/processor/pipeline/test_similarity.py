"""Item-to-topic similarity: cosine, names shared, names missing or at odds, activity."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.similarity import (
    TERMS,
    Evidence,
    Features,
    TopicView,
    features,
    name_words,
    saturating,
    similarity,
)

CONFIG = PipelineConfig()
AT = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
VECTOR = np.full(4, 0.5, dtype=np.float32)
NIMBUS = TopicView(
    0.6,
    identity=[("nimbus", 0.9 * 4.0), ("outage", 0.5 * 2.0)],
    names=[("nimbus", 0.9)],
    counts={"nimbus": 9, "outage": 5, "virginia": 1},
    size=10,
    words=frozenset({"nimbus", "outage"}),
)


def _item(entities: dict[str, float], names: tuple[str, ...] = ()) -> Evidence:
    return Evidence(VECTOR, entities, AT, frozenset(names))


def test_an_item_without_names_is_judged_on_cosine_timing_and_what_it_lacks() -> None:
    found = features(_item({}), NIMBUS, CONFIG)
    assert (found.agreement, found.conflict) == (0.0, 0.0)
    assert found.absence == pytest.approx(0.9)
    quiet = TopicView(0.4, recent=4)
    assert similarity(_item({}), quiet, CONFIG) == pytest.approx(
        0.4 + CONFIG.time_weight * (1 - np.exp(-4 / CONFIG.activity_saturation))
    )


def test_agreement_is_the_idf_cosine_with_the_topics_salient_entities() -> None:
    found = features(_item({"nimbus": 4.0}, ("nimbus",)), NIMBUS, CONFIG)
    assert found.agreement == pytest.approx(3.6 / np.hypot(3.6, 1.0))
    assert (found.absence, found.conflict) == (0.0, 0.0)


def test_another_name_where_the_topic_has_its_own_is_a_conflict() -> None:
    found = features(_item({"stratus": 5.0, "outage": 2.0}, ("stratus",)), NIMBUS, CONFIG)
    assert found.absence == pytest.approx(0.9)
    assert found.conflict == pytest.approx(0.9 * saturating(5.0, CONFIG.entity_saturation))
    assert similarity(_item({"nimbus": 4.0}, ("nimbus",)), NIMBUS, CONFIG) > similarity(
        _item({"stratus": 5.0, "outage": 2.0}, ("stratus",)), NIMBUS, CONFIG
    )


def test_a_new_name_beside_the_topics_own_is_no_conflict() -> None:
    found = features(_item({"nimbus": 4.0, "marrow": 6.0}, ("nimbus", "marrow")), NIMBUS, CONFIG)
    assert (found.absence, found.conflict) == (0.0, 0.0)


def test_a_name_some_members_gave_conflicts_less() -> None:
    known = features(_item({"virginia": 5.0}, ("virginia",)), NIMBUS, CONFIG).conflict
    stranger = features(_item({"oregon": 5.0}, ("oregon",)), NIMBUS, CONFIG).conflict
    # virginia: 1 of 10 members, below the salient share of 2.5 members: 60 % a stranger
    assert known == pytest.approx(0.9 * saturating(0.6 * 5.0, CONFIG.entity_saturation))
    assert 0 < known < stranger


def test_a_longer_form_of_a_salient_name_is_no_stranger() -> None:
    found = features(_item({"nimbus cloud": 5.0}, ("nimbus cloud",)), NIMBUS, CONFIG)
    assert found.conflict == 0.0
    assert name_words("bank of eldoria") == frozenset({"bank", "eldori"})


def test_identifiers_and_words_never_conflict() -> None:
    found = features(_item({"eu-west-2": 5.0, "ransomware": 4.0}), NIMBUS, CONFIG)
    assert found.conflict == 0.0


def test_a_topic_without_salient_names_has_nothing_to_contradict() -> None:
    sightings = TopicView(0.5, identity=[("aurora", 2.0)], counts={"leeds": 1}, size=8)
    found = features(_item({"rome": 6.0}, ("rome",)), sightings, CONFIG)
    assert (found.absence, found.conflict) == (0.0, 0.0)


def test_a_topic_in_full_swing_attracts_related_items() -> None:
    scores = [similarity(_item({}), TopicView(0.4, recent=n), CONFIG) for n in (0, 1, 10)]
    assert scores[0] < scores[1] < scores[2]


def test_saturating_rises_to_one() -> None:
    assert saturating(0, 3) == 0
    assert saturating(3, 3) == pytest.approx(1 - np.exp(-1))
    assert saturating(100, 3) == pytest.approx(1)


def test_every_term_reads_a_feature_weighed_by_a_setting() -> None:
    fields = set(Features.__slots__)
    assert {term.feature for term in TERMS} | {"cosine"} == fields
    assert all(isinstance(getattr(CONFIG, term.weight), float) for term in TERMS)


def test_the_similarity_is_the_cosine_plus_the_weighed_terms() -> None:
    config = PipelineConfig(absence_weight=0.3)
    item = Evidence(VECTOR, {"stratus": 4.0}, AT, frozenset({"stratus"}))
    found = features(item, NIMBUS, config)
    written = (
        found.cosine
        + config.entity_weight * found.agreement
        - config.absence_weight * found.absence
        - config.mismatch_weight * found.conflict
        + config.time_weight * found.activity
    )
    assert found.conflict > 0 and found.absence > 0
    assert similarity(item, NIMBUS, config) == written
