"""Topic keywords and labels by c-TF-IDF over member titles."""

from __future__ import annotations

from services.processor.pipeline.keywords import class_tfidf, label_of, terms


def test_terms_drop_stop_words_numbers_and_possessives() -> None:
    assert terms("The Nimbus's outage: 5 hours in us-east") == [
        "nimbus",
        "outage",
        "hours",
        "us-east",
        "nimbus outage",
        "outage hours",
        "hours us-east",
    ]


def test_distinctive_terms_rank_first() -> None:
    keywords = class_tfidf(
        {
            "nimbus": ["Nimbus outage in us-east", "Nimbus outage recovery", "Nimbus outage cost"],
            "stratus": ["Stratus outage in Frankfurt", "Stratus restores Frankfurt region"],
        },
        top=3,
    )
    assert keywords["nimbus"][0] == "nimbus"
    assert keywords["stratus"][:2] == ["frankfurt", "stratus"]
    assert all(len(words) == 3 for words in keywords.values())


def test_label_skips_words_already_in_a_chosen_phrase() -> None:
    keywords = ["nimbus outage", "nimbus", "outage", "us-east", "dns"]
    assert label_of(keywords, 3) == "nimbus outage · us-east · dns"
    assert label_of([], 3) == ""
