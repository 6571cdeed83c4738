"""Strays: a candidate left beside a small topic joins it once the topic has grown its way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from services.processor.pipeline.cluster import Member, OnlineClusterer
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.similarity import Evidence

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
STORY = (1.0, 0.0, 0.0, 0.0)
LATER = (0.6, 0.0, 0.0, 0.8)
"""Where the story's later posts are: 0.6 from its first ones, so they join it."""
STRAY = (0.53, 0.81, 0.0, 0.25)
"""Below the join threshold (0.54) from the story's first posts and from its later ones,
0.58 from the centroid they end at (3 first and 5 later posts): below the merge floor."""


def _member(item_id: str, values: tuple[float, ...], hours: float) -> Member:
    vector = np.asarray(values, dtype=np.float32)
    evidence = Evidence(vector / np.linalg.norm(vector), {}, T0 + timedelta(hours=hours))
    return Member(item_id, f"title of {item_id}", evidence, None, None)


def _story_and_stray(later_posts: int) -> tuple[OnlineClusterer, str, str]:
    clusterer = OnlineClusterer(PipelineConfig(), EntityStats())
    story = ""
    for number in range(3):
        story = clusterer.assign(_member(f"a{number}", STORY, hours=number))
    stray = clusterer.assign(_member("stray", STRAY, hours=30))
    for number in range(later_posts):
        assert clusterer.assign(_member(f"b{number}", LATER, hours=31 + number)) == story
    return clusterer, story, stray


def test_a_stray_joins_the_topic_that_grew_its_way() -> None:
    clusterer, story, stray = _story_and_stray(later_posts=5)
    assert stray != story
    assert clusterer.merge_converged([story]) == {}
    assert clusterer.home_strays([story]) == {stray: story}
    assert clusterer.topic_of("stray") == story
    assert clusterer.topics[story].size == 9
    assert stray not in clusterer.topics


def test_a_stray_the_topic_did_not_grow_towards_stays_alone() -> None:
    clusterer, story, stray = _story_and_stray(later_posts=0)
    assert clusterer.home_strays([story]) == {}
    assert clusterer.topic_of("stray") == stray and stray in clusterer.topics


def test_only_counted_topics_take_strays_in_and_only_candidates_are_taken() -> None:
    clusterer, story, stray = _story_and_stray(later_posts=5)
    assert clusterer.home_strays([stray]) == {}
    assert clusterer.home_strays([]) == {}
    assert clusterer.is_counted(story) and not clusterer.is_counted(stray)
