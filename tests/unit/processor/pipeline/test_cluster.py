"""Online clustering: join the best topic with enough evidence, else start a candidate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from services.processor.pipeline.cluster import Member, OnlineClusterer, TopicState
from services.processor.pipeline.codec import encode_topic
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.similarity import Evidence

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _member(
    item_id: str,
    vector: np.ndarray,
    entities: dict[str, float] | None = None,
    hours: float = 0.0,
    score: int | None = None,
) -> Member:
    evidence = Evidence(vector, entities or {}, T0 + timedelta(hours=hours))
    return Member(item_id, f"title of {item_id}", evidence, score, None)


@pytest.fixture
def clusterer() -> OnlineClusterer:
    return OnlineClusterer(PipelineConfig(), EntityStats())


def test_similar_items_join_and_unrelated_ones_start_candidates(
    clusterer: OnlineClusterer,
) -> None:
    first = clusterer.assign(_member("a", _unit(1, 0, 0, 0)))
    assert clusterer.assign(_member("b", _unit(1, 0.2, 0, 0), hours=1)) == first
    other = clusterer.assign(_member("c", _unit(0, 0, 1, 0), hours=2))
    assert other != first
    assert clusterer.topics[first].size == 2
    assert clusterer.topic_of("c") == other


def test_entities_decide_between_two_equally_close_topics(clusterer: OnlineClusterer) -> None:
    nimbus = clusterer.assign(_member("n1", _unit(1, 1, 0, 0), {"nimbus": 4.0}))
    stratus = clusterer.assign(_member("s1", _unit(1, -1, 0, 0), {"stratus": 4.0}, hours=48))
    assert nimbus != stratus
    item = _member("s2", _unit(1, 0, 0.3, 0), {"stratus": 4.0}, hours=49)
    assert clusterer.assign(item) == stratus


def test_a_weak_match_without_evidence_stays_out(clusterer: OnlineClusterer) -> None:
    topic = clusterer.assign(_member("a", _unit(1, 0, 0, 0)))
    lonely = clusterer.assign(_member("b", _unit(0.45, 0.89, 0, 0), hours=30))
    assert lonely != topic


def test_only_topics_with_enough_members_count(clusterer: OnlineClusterer) -> None:
    for number in range(3):
        clusterer.assign(_member(f"a{number}", _unit(1, 0.1 * number, 0, 0), hours=number))
    clusterer.assign(_member("lonely", _unit(0, 0, 0, 1)))
    assert [topic.size for topic in clusterer.counted()] == [3]


def test_stale_candidates_expire_but_topics_stay(clusterer: OnlineClusterer) -> None:
    for number in range(3):
        clusterer.assign(_member(f"a{number}", _unit(1, 0, 0, 0), hours=number + 10))
    candidate = clusterer.assign(_member("lonely", _unit(0, 0, 0, 1), hours=3))
    expired = clusterer.expire(T0 + timedelta(hours=3 + 49))
    assert expired == [candidate]
    assert clusterer.topic_of("lonely") is None
    assert clusterer.topic_of("a0") is not None


def _archived(clusterer: OnlineClusterer, vector: np.ndarray) -> list[str]:
    return clusterer.archived_near(vector.reshape(1, -1), 0.6)[0]


def test_quiet_topics_leave_memory_but_stay_findable(clusterer: OnlineClusterer) -> None:
    for number in range(3):
        topic = clusterer.assign(_member(f"a{number}", _unit(1, 0, 0, 0), hours=number))
    assert clusterer.expire(T0 + timedelta(hours=2 + 49)) == [topic]
    assert topic not in clusterer.topics
    assert clusterer.changes().archived == [topic]
    assert _archived(clusterer, _unit(1, 0.1, 0, 0)) == [topic]
    assert _archived(clusterer, _unit(0, 1, 0, 0)) == []
    restored = OnlineClusterer.restore(clusterer.config, clusterer.state())
    assert _archived(restored, _unit(1, 0.1, 0, 0)) == [topic]
    later = T0 + timedelta(hours=24 * 15)
    assert clusterer.expire(later) == [] and _archived(clusterer, _unit(1, 0, 0, 0)) == []
    assert clusterer.changes().removed == [topic]


def test_duplicates_join_their_original_without_counting(clusterer: OnlineClusterer) -> None:
    topic = clusterer.assign(_member("a", _unit(1, 0, 0, 0), score=10))
    assert clusterer.attach("copy", "a", T0 + timedelta(hours=1)) == topic
    assert clusterer.attach("copy", "a", T0 + timedelta(hours=1)) == topic
    state = clusterer.topics[topic]
    assert (state.size, state.duplicates) == (1, 1)
    assert sum(activity.count for activity in state.activity.values()) == 1
    assert clusterer.attach("orphan", "unknown", T0) is None


def _topic(clusterer: OnlineClusterer, prefix: str, vector: np.ndarray, **entities: float) -> str:
    ids = {clusterer.assign(_member(f"{prefix}{n}", vector, entities, hours=n)) for n in range(3)}
    assert len(ids) == 1
    return ids.pop()


def _split_pair(clusterer: OnlineClusterer, **entities: dict[str, float]) -> tuple[str, str]:
    """Two topics 0.7 apart in cosine, built apart so they do not join each other."""
    first = clusterer.assign(_member("x0", _unit(1, 0, 0, 0), entities.get("first")))
    second_vector = _unit(0.7, 0.714, 0, 0)
    later = T0 + timedelta(hours=1)
    second = TopicState("second", later, later, np.zeros(4, np.float32), size=1)
    second.add_vector(second_vector)
    second.entity_counts.update(entities.get("second", {}))
    clusterer.restore_topic(second)
    return first, "second"


def test_topics_whose_centroids_and_entities_converge_merge(clusterer: OnlineClusterer) -> None:
    first, second = _split_pair(clusterer, first={"aurora": 4.0}, second={"aurora": 4.0})
    assert clusterer.merge_converged() == {second: first}
    assert clusterer.topics[first].size == 2
    assert clusterer.resolve(second) == first


def test_topics_naming_different_events_do_not_merge(clusterer: OnlineClusterer) -> None:
    _split_pair(clusterer, first={"nimbus": 4.0}, second={"stratus": 4.0})
    assert clusterer.merge_converged() == {}


def test_a_topic_without_salient_entities_merges_on_its_centroid(
    clusterer: OnlineClusterer,
) -> None:
    first, second = _split_pair(clusterer, first={"ar4298": 4.0})
    assert clusterer.merge_converged() == {second: first}


def test_state_round_trip(clusterer: OnlineClusterer) -> None:
    topic = _topic(clusterer, "a", _unit(1, 0, 0, 0), nimbus=4.0)
    clusterer.attach("copy", "a0", T0)
    restored = OnlineClusterer.restore(clusterer.config, clusterer.state())
    original, copy = clusterer.topics[topic], restored.topics[topic]
    assert encode_topic(copy) == encode_topic(original)
    np.testing.assert_allclose(copy.centroid, original.centroid)
    assert (copy.size, copy.duplicates) == (3, 1)
    assert restored.topic_of("copy") is None  # recent items are not saved: PostgreSQL has them
    assert restored.attach("copy", "a0", T0, known=topic) == topic


def test_changes_list_changed_and_removed_topics_until_saved(clusterer: OnlineClusterer) -> None:
    first, second = _split_pair(clusterer)
    clusterer.touch(second)
    changes = clusterer.changes()
    assert [topic["topic_id"] for _, topic in changes.changed] == [first, second]
    assert [position for position, _ in changes.changed] == sorted(p for p, _ in changes.changed)
    clusterer.merge_converged()
    clusterer.saved(changes)
    after = clusterer.changes()
    assert [topic["topic_id"] for _, topic in after.changed] == [first]  # changed by the merge
    assert after.removed == [second]
    clusterer.saved(after)
    assert clusterer.changes() == type(after)([], [], [], {})


def test_a_clusterer_restored_from_saved_changes_keeps_its_order(
    clusterer: OnlineClusterer,
) -> None:
    for prefix, vector in (("a", _unit(1, 0, 0, 0)), ("b", _unit(0, 1, 0, 0))):
        _topic(clusterer, prefix, vector)
    saved = {topic["topic_id"]: (n, topic) for n, topic in clusterer.changes().changed}
    rows = sorted(saved.values(), key=lambda row: -row[0])  # any order: positions decide
    state = {"topics": [{**topic, "position": n} for n, topic in rows]}
    restored = OnlineClusterer.restore(clusterer.config, state)
    assert list(restored.topics) == list(clusterer.topics)
    assert restored.state() == clusterer.state()
    assert restored.changes().changed == []
    _topic(restored, "c", _unit(0, 0, 1, 0))
    [(position, _)] = restored.changes().changed
    assert position > max(n for n, _ in saved.values())
