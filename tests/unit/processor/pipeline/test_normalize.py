"""Normalisation: clean text, detected language, empty items dropped with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.processor.pipeline.normalize import (
    Dropped,
    DropReason,
    NormalizedItem,
    clean_text,
    detect_language,
    normalize,
)
from tests.factories import make_item


def _normalized(**fields: object) -> NormalizedItem:
    result = normalize(make_item(**fields))
    assert isinstance(result, NormalizedItem)
    return result


def test_html_is_stripped_and_entities_decoded() -> None:
    raw = "<p>Fish &amp; chips</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
    assert clean_text(raw) == "Fish & chips one two"


def test_unicode_is_nfkc_normalised_and_whitespace_collapsed() -> None:
    assert clean_text("\ufb01nal\u00a0\u00a0\uff21\uff29\t\n report\u200b") == "final AI report"


def test_plain_text_with_angle_brackets_survives() -> None:
    assert clean_text("x < y and y > z") == "x < y and y > z"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The central bank cut interest rates by a quarter point on Wednesday", "en"),
        ("Die Zentralbank hat die Zinsen am Mittwoch um einen Viertelpunkt gesenkt", "de"),
        ("La banque centrale a baissé ses taux d'intérêt mercredi", "fr"),
        ("2026 — 42 % :)", "und"),
    ],
)
def test_language_is_detected(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(("title", "text"), [("", ""), ("<p> </p>", "&nbsp;"), ("  ", "<br/>")])
def test_items_without_words_are_dropped_as_empty(title: str, text: str) -> None:
    item = make_item(title=title, text=text)
    assert normalize(item) == Dropped(item.key, DropReason.EMPTY)


def test_item_fields_are_kept_and_cleaned() -> None:
    published = datetime(2026, 11, 18, 12, 5, tzinfo=UTC)
    result = _normalized(
        title="Bank  of Eldoria <b>cuts</b> rates",
        text="<p>The cut was 25bp.</p>",
        published_at=published,
        score=None,
        comments=None,
    )
    assert (result.title, result.text) == ("Bank of Eldoria cuts rates", "The cut was 25bp.")
    assert (result.language, result.at, result.score, result.comments) == (
        "en",
        published,
        None,
        None,
    )
    assert result.content == "Bank of Eldoria cuts rates\nThe cut was 25bp."


def test_time_falls_back_to_collection_time() -> None:
    collected = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert _normalized(published_at=None, collected_at=collected).at == collected


def test_title_repeating_the_start_of_the_text_is_not_embedded_twice() -> None:
    text = "Two hours into the outage and my smart doorbell still thinks the door is gone."
    result = _normalized(title=text[:40], text=text)
    assert result.content == text


def test_text_stands_in_for_a_missing_title() -> None:
    assert _normalized(title="", text="Only a body here").title == "Only a body here"
