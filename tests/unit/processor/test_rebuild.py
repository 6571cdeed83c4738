"""Rebuilding from the log: the change between two placements, and the shadow's replay."""

from __future__ import annotations

from services.processor.evaluate import hourly
from services.processor.pipeline import HashingEmbedder, Pipeline, PipelineConfig
from services.processor.pipeline.placements import Placements
from services.processor.rebuild import Shadow, change
from tests.support.corpus import CORPUS, load_corpus

CONFIG = PipelineConfig()


def test_the_same_placement_changes_nothing() -> None:
    before = {"a": "t1", "b": "t1", "c": "t2", "d": None}
    found = change(before, dict(before))
    assert (found.merged, found.split, found.moved, found.agreement) == (0, 0, 0, 1.0)
    assert (found.items, found.topics_before, found.topics_after) == (4, 2, 2)


def test_two_topics_in_one_are_a_merge() -> None:
    before = {"a": "t1", "b": "t1", "c": "t2", "d": "t2", "e": None}
    after = {"a": "n1", "b": "n1", "c": "n1", "d": "n1", "e": None}
    found = change(before, after)
    assert (found.merged, found.split, found.topics_after) == (1, 0, 1)
    assert found.moved == 0  # each before-topic went whole to one topic after
    assert found.agreement < 1.0


def test_a_topic_in_two_is_a_split_and_items_moved() -> None:
    before = {"a": "t1", "b": "t1", "c": "t1", "d": "t1", "e": "t1", "f": None}
    after = {"a": "n1", "b": "n1", "c": "n1", "d": "n2", "e": "n2", "f": "n2"}
    found = change(before, after)
    assert (found.merged, found.split) == (0, 1)
    assert found.moved == 3  # d and e left t1's home n1; f left its own singleton


def test_the_shadow_places_logged_items_as_the_live_stage_placed_them() -> None:
    corpus = load_corpus(CORPUS)[:160]
    embedder = HashingEmbedder(64)
    live, placements = Pipeline(CONFIG, embedder), Placements()
    shadow = Shadow(CONFIG, embedder.dimension)
    for batch in hourly(corpus):
        raw = [entry.item for entry in batch]
        kept, _ = live.enricher.normalize(raw)
        logged = live.enricher.enrich(kept)  # what items.enriched carries
        placements.add(live.process(raw))
        shadow.replay(logged, len(logged))
    keys = [entry.item.key for entry in corpus]
    found = change(placements.final(keys), shadow.topics(keys))
    assert (found.moved, found.agreement, found.items) == (0, 1.0, len(corpus))
    assert found.topics_before == found.topics_after > 0
    assert 0 < len(shadow.trends(3)) <= 3
