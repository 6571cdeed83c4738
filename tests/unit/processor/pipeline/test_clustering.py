"""The cluster stage: archived topics come back when their story does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from services.processor.pipeline import ClusterStage, PipelineConfig, TopicState
from services.processor.pipeline.cluster import bucket_of
from services.processor.pipeline.scoring import Activity

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
CONFIG = PipelineConfig()


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _topic(topic_id: str, vector: np.ndarray, at: datetime, names: dict[str, int]) -> TopicState:
    topic = TopicState(topic_id, at, at, 3 * vector, size=3, entity_counts=Counter(names))
    topic.activity[bucket_of(at, CONFIG)] = Activity(3)
    return topic


def test_a_topic_meeting_an_archived_part_of_its_story_takes_it_back_and_merges() -> None:
    stage = ClusterStage(CONFIG, 4, keep_archived=True)
    quiet = _topic("quiet", _unit(1, 0, 0, 0), T0, {"aurora": 3})
    stage.clusterer.restore_topic(quiet)
    stage.clusterer.expire(T0 + timedelta(hours=CONFIG.live_topic_hours + 1))
    assert "quiet" in stage.clusterer.archive and "quiet" not in stage.clusterer.topics
    later = T0 + timedelta(hours=CONFIG.live_topic_hours + 2)
    stage.clusterer.restore_topic(_topic("busy", _unit(0.8, 0.6, 0, 0), later, {"aurora": 3}))
    stage.now = later
    revivals = stage._merge_revivals({"busy"})
    assert revivals == {"busy": ["quiet"]}
    saved = stage.clusterer.archived_states or {}
    result = stage.revive(revivals, {"quiet": saved["quiet"]})
    assert result.merged in ({"busy": "quiet"}, {"quiet": "busy"})
    assert stage.clusterer.topics[next(iter(result.merged.values()))].size == 6
    assert stage._merge_revivals({"busy", "quiet"}) == {}  # once per topic and bucket


def test_a_topic_far_from_the_archived_ones_brings_none_back() -> None:
    stage = ClusterStage(CONFIG, 4, keep_archived=True)
    stage.clusterer.restore_topic(_topic("quiet", _unit(1, 0, 0, 0), T0, {"aurora": 3}))
    stage.clusterer.expire(T0 + timedelta(hours=CONFIG.live_topic_hours + 1))
    later = T0 + timedelta(hours=CONFIG.live_topic_hours + 2)
    stage.clusterer.restore_topic(_topic("other", _unit(0, 1, 0, 0), later, {"chess": 3}))
    stage.now = later
    assert stage._merge_revivals({"other"}) == {}
