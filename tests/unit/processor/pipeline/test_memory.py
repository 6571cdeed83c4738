"""The topic memory: the counted sums, the index and the ledger kept in step with topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from services.processor.pipeline.assign import new_topic
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.memory import TopicMemory
from services.processor.pipeline.similarity import Evidence
from services.processor.pipeline.topic import Member, TopicState, bucket_of

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
CONFIG = PipelineConfig()


def _member(item_id: str, title: str, hours: float = 0.0) -> Member:
    vector = np.asarray([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    return Member(item_id, title, Evidence(vector, {}, T0 + timedelta(hours=hours)))


def _grown(memory: TopicMemory, members: int, prefix: str = "a") -> TopicState:
    first = _member(f"{prefix}0", "harbour strike")
    topic = new_topic(first)
    memory.insert(topic)
    memory.join(topic, first)
    for n in range(1, members):
        memory.join(topic, _member(f"{prefix}{n}", "harbour strike ends", hours=n))
    return topic


def test_a_topic_counts_once_it_reaches_the_minimum_size() -> None:
    memory = TopicMemory(CONFIG, 4)
    topic = _grown(memory, CONFIG.min_topic_size - 1)
    assert memory.counted() == [] and not memory.counted_terms
    memory.join(topic, _member("last", "harbour strike ends", hours=9))
    assert memory.counted() == [topic] and memory.counted_size() == 1
    assert memory.counted_terms == topic.terms
    assert sum(memory.counted_activity.values()) == topic.size


def test_absorbing_a_counted_topic_keeps_the_sums_and_resolves_its_items() -> None:
    memory = TopicMemory(CONFIG, 4)
    kept, absorbed = _grown(memory, 4), _grown(memory, 3, prefix="b")
    before = sum(memory.counted_activity.values())
    memory.absorb(kept, absorbed)
    assert sum(memory.counted_activity.values()) == before == kept.size == 7
    assert memory.counted_terms == kept.terms
    assert memory.live_topic_of("b1") == kept.topic_id
    assert absorbed.topic_id not in memory.topics and memory.counted_size() == 1


def test_labels_and_trends_change_a_topic_only_through_the_memory() -> None:
    memory = TopicMemory(CONFIG, 4)
    topic = _grown(memory, 3)
    memory.ledger.saved(memory.ledger.pending().versions)
    memory.relabel(topic.topic_id, ["harbour"], "harbour")
    assert topic.label == "harbour"
    assert [t for _, t in memory.ledger.pending().changed] == [topic.topic_id]
    assert memory.take_stale(topic.topic_id) == bucket_of(T0, CONFIG)
    assert memory.take_stale(topic.topic_id) is None


def test_forgetting_old_activity_keeps_the_recent_buckets() -> None:
    memory = TopicMemory(CONFIG, 4)
    _grown(memory, 3)
    memory.forget_activity_before(bucket_of(T0 + timedelta(hours=1), CONFIG))
    assert sorted(memory.counted_activity) == [
        bucket_of(T0 + timedelta(hours=n), CONFIG) for n in (1, 2)
    ]
