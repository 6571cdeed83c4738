"""Entities: capitalised phrases without tagger models, rare lower-case names, IDF weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.processor.pipeline.embed import default_model_path
from services.processor.pipeline.entities import (
    EntityExtractor,
    EntityStats,
    load_vocabulary,
    name_key,
    profile_similarity,
)

VOCABULARY = load_vocabulary(default_model_path() / "vocab.txt")


@pytest.fixture
def extractor() -> EntityExtractor:
    return EntityExtractor(vocabulary=VOCABULARY)


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("Korvath Motors recalls 340,000 SUVs", ["korvath motors", "korvat", "suvs"]),
        ("Rates: the Bank of Eldoria cuts by 25bp", ["bank of eldoria", "eldori"]),
        ("Nimbus Cloud us-east-1 is down for AWS", ["nimbus cloud", "nimbus", "us-east-1", "aws"]),
        (
            "Stratus Compute's Frankfurt region fell over",
            ["stratus compute", "stratu", "frankf"],
        ),
        ("What GPT-5 and 5G mean for OpenAI", ["gpt-5", "5g", "openai"]),
    ],
)
def test_capitalised_phrases_acronyms_and_identifiers(
    extractor: EntityExtractor, text: str, entities: list[str]
) -> None:
    assert extractor.extract(text) == entities


@pytest.mark.parametrize(
    "text",
    [
        "Show HN: a static site generator in 400 lines",
        "Ask HN: how do you back up family photos?",
        "The New plan arrives on Monday in November",
        "Regulators open inquiry into brakes",
        "Weird: the build box complains",
    ],
)
def test_generic_calendar_and_sentence_initial_common_words_are_ignored(
    extractor: EntityExtractor, text: str
) -> None:
    assert extractor.extract(text) == []


def test_a_sentence_initial_name_is_kept_when_it_is_no_common_word(
    extractor: EntityExtractor,
) -> None:
    assert extractor.extract("Brightwater holds plasma for 22 minutes") == ["bright"]


def test_words_seen_in_lower_case_are_not_names_at_sentence_start() -> None:
    extractor = EntityExtractor()
    extractor.learn("Analysts say the tapestry was restored in Lyon.")
    assert extractor.extract("Tapestry unveiled in Lyon") == ["lyon"]


def test_title_case_headlines_keep_only_uncommon_words(extractor: EntityExtractor) -> None:
    headline = "Lanternfish Games Reveals Hollow Meridian Sequel At Nightfall Showcase"
    assert extractor.extract(headline) == ["lanter"]


def test_learnt_capitalisation_rescues_names_in_headlines(extractor: EntityExtractor) -> None:
    extractor.learn("Fans watched the Nightfall Showcase stream.")
    found = extractor.extract("Lanternfish Reveals Sequel At Nightfall Showcase")
    assert found == ["lanter", "nightfall showcase"]


def test_rare_lower_case_names_count_as_entities(extractor: EntityExtractor) -> None:
    found = extractor.extract("libvarn 6.2 released with a new compression library")
    assert found == ["libvar"]


def test_inflected_common_words_are_not_rare(extractor: EntityExtractor) -> None:
    assert extractor.extract("users complained about the summits") == []


def test_rare_terms_can_be_switched_off() -> None:
    extractor = EntityExtractor(vocabulary=VOCABULARY, rare_terms=False)
    assert extractor.extract("libvarn released") == []


def test_rare_entities_weigh_more() -> None:
    stats = EntityStats()
    for entities in (["europe", "nimbus"], ["europe"], ["europe", "stratus"], ["europe"]):
        stats.observe(entities)
    weights = stats.weights(["europe", "nimbus"])
    assert weights["nimbus"] > weights["europe"] >= 1.0


def test_profile_similarity_weights_shared_rare_entities() -> None:
    stats = EntityStats()
    for entities in (["outage", "nimbus"], ["outage", "stratus"], ["outage"], ["outage"]):
        stats.observe(entities)
    nimbus = {"nimbus": 1.0, "outage": 0.8}
    assert profile_similarity(nimbus, {"nimbus": 0.9, "outage": 0.5}, stats) > 0.9
    assert profile_similarity(nimbus, {"stratus": 1.0, "outage": 0.8}, stats) < 0.5
    assert profile_similarity(nimbus, {}, stats) == 0.0


def test_state_round_trip() -> None:
    extractor, stats = EntityExtractor(), EntityStats()
    extractor.learn("the outage hit Nimbus users")
    stats.observe(["nimbus"])
    copy = EntityExtractor()
    copy.restore(extractor.state())
    assert (copy.lowercase, copy.capitalised) == (extractor.lowercase, extractor.capitalised)
    assert EntityStats.restore(stats.state()) == stats


def test_vocabulary_keeps_whole_words_only(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n##ing\nthe\nbank\na\n2026\n", encoding="utf-8")
    assert load_vocabulary(path) == frozenset({"the", "bank"})
    assert load_vocabulary(path.with_name("missing.txt")) == frozenset()


def test_single_words_are_keyed_by_their_first_six_letters() -> None:
    assert [name_key(w) for w in ("eldoria", "eldorian", "eldorians")] == ["eldori"] * 3
    assert name_key("hungary") == name_key("hungarian") == "hungar"
    assert name_key("halvix") == "halvix"
    assert name_key("bank of eldoria") == "bank of eldoria"
    assert name_key("eu-central-1") == "eu-central-1"


def test_a_demonym_names_what_its_country_names(extractor: EntityExtractor) -> None:
    assert extractor.extract("Eldorian crown slides after the cut") == ["eldori"]
    assert "eldori" in extractor.extract("The Bank of Eldoria cuts rates")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "Stratus Compute's eu-central-1 region is down for AWS",
            ["stratus compute", "stratu", "aws"],
        ),
        ("X2.9 flare from sunspot region AR4298", []),
        ("libvarn 6.2 backdoor found by Andres", ["andres"]),
        ("HALF A POINT from the Halvard Reserve", ["halvard reserve", "halvar"]),
        ("The EU votes on repair rules", ["eu"]),
    ],
)
def test_proper_names_are_the_capitalised_names_without_digits(
    extractor: EntityExtractor, text: str, names: list[str]
) -> None:
    entities, proper = extractor.extract_names(text)
    assert proper == names
    assert set(proper) <= set(entities)


def test_a_dropped_first_word_may_start_the_name_after_it(extractor: EntityExtractor) -> None:
    found = extractor.extract("Hollow Meridian 2 revealed at the showcase")
    assert found == ["meridi", "hollow meridian"]


def test_entity_counts_are_bounded_forgetting_the_rarest_first() -> None:
    stats = EntityStats(capacity=4)
    for entities in (["europe"], ["europe", "a"], ["b"], ["c"], ["europe", "d"]):
        stats.observe(entities)
    assert len(stats.frequency) == 5  # up to a quarter over the capacity
    stats.observe(["e"])
    assert dict(stats.frequency) == {"europe": 3, "c": 1, "d": 1, "e": 1}  # a, b: oldest rare
    assert {entity for entity, count in stats.changes().items() if count == 0} == {"a", "b"}
    assert stats.idf("a") == stats.idf("never-seen")
