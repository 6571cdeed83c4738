"""Duplicates: the same item or content again, and near-identical embeddings of one event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from services.processor.pipeline.dedupe import (
    ExactDeduper,
    NearDuplicateIndex,
    entity_agreement,
)
from services.processor.pipeline.normalize import NormalizedItem

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)


def _item(item_id: str, title: str, text: str = "") -> NormalizedItem:
    return NormalizedItem(item_id, item_id.split(":", maxsplit=1)[0], title, text, "en", T0)


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _index(capacity: int = 8) -> NearDuplicateIndex:
    return NearDuplicateIndex(3, 0.95, 0.5, timedelta(hours=48), capacity)


def test_exact_duplicates_by_identity_and_by_content() -> None:
    deduper = ExactDeduper()
    original = _item("hackernews:1", "Nimbus Cloud us-east is down")
    deduper.remember(original, original.item_id)
    assert deduper.original_of(_item("hackernews:1", "edited title")) == "hackernews:1"
    assert deduper.original_of(_item("reddit:9", "Nimbus cloud US-EAST is down")) == "hackernews:1"
    assert deduper.original_of(_item("reddit:10", "Stratus is down")) is None


def test_a_copy_of_a_copy_points_to_the_first_original() -> None:
    deduper = ExactDeduper()
    deduper.remember(_item("a:1", "Title"), "a:1")
    deduper.remember(_item("b:1", "Title, reposted"), "a:1")
    assert deduper.original_of(_item("c:1", "title, REPOSTED")) == "a:1"


def test_exact_deduper_forgets_beyond_its_capacity() -> None:
    deduper = ExactDeduper(capacity=2)
    for number in range(3):
        deduper.remember(_item(f"s:{number}", f"title {number}"), f"s:{number}")
    assert deduper.original_of(_item("s:0", "title 0")) is None
    assert deduper.original_of(_item("s:2", "other")) == "s:2"


def test_near_duplicate_found_above_the_threshold() -> None:
    index = _index()
    index.add("hn:1", _unit(1, 0, 0), T0, {"nimbus": 4.0})
    assert index.original_of(_unit(1, 0.1, 0), T0, {"nimbus": 4.0}) == "hn:1"
    assert index.original_of(_unit(1, 0.5, 0), T0, {"nimbus": 4.0}) is None


def test_near_duplicates_must_name_the_same_entities() -> None:
    index = _index()
    index.add("hn:1", _unit(1, 0, 0), T0, {"nimbus": 4.0, "outage": 2.0})
    assert index.original_of(_unit(1, 0.05, 0), T0, {"stratus": 4.0, "outage": 2.0}) is None
    assert index.original_of(_unit(1, 0.05, 0), T0, {}) == "hn:1"


def test_near_duplicates_only_within_the_window() -> None:
    index = _index()
    index.add("hn:1", _unit(1, 0, 0), T0, {})
    assert index.original_of(_unit(1, 0, 0), T0 + timedelta(hours=49), {}) is None


def test_oldest_entries_make_room_when_full() -> None:
    index = _index(capacity=2)
    for number, vector in enumerate([_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)]):
        index.add(f"s:{number}", vector, T0, {})
    assert index.original_of(_unit(1, 0, 0), T0, {}) is None
    assert index.original_of(_unit(0, 0, 1), T0, {}) == "s:2"


def test_entity_agreement_is_measured_on_the_smaller_set() -> None:
    assert entity_agreement({"a": 2.0}, {"a": 2.0, "b": 5.0}) == 1.0
    assert entity_agreement({"a": 2.0}, {"b": 2.0}) == 0.0
    assert entity_agreement({}, {"b": 2.0}) == 1.0


def test_a_search_limited_to_topics_sees_only_their_entries() -> None:
    index = _index()
    index.add("hn:1", _unit(1, 0, 0), T0, {}, topic="outage")
    index.add("hn:2", _unit(0, 1, 0), T0, {}, topic="launch")
    assert index.original_of(_unit(1, 0.05, 0), T0, {}, topics=["outage"]) == "hn:1"
    assert index.original_of(_unit(1, 0.05, 0), T0, {}, topics=["launch"]) is None
    index.merge("outage", "launch")
    assert index.original_of(_unit(1, 0.05, 0), T0, {}, topics=["launch"]) == "hn:1"
    index.forget(["launch"])
    assert index.original_of(_unit(1, 0.05, 0), T0, {}, topics=["launch"]) is None


def test_an_entry_that_makes_room_leaves_its_topic() -> None:
    index = _index(capacity=1)
    index.add("hn:1", _unit(1, 0, 0), T0, {}, topic="outage")
    index.add("hn:2", _unit(0, 1, 0), T0, {}, topic="launch")
    assert index.original_of(_unit(1, 0, 0), T0, {}, topics=["outage"]) is None
    assert index.original_of(_unit(0, 1, 0), T0, {}, topics=["launch"]) == "hn:2"
