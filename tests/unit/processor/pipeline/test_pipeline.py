"""The in-memory pipeline (the "test pipeline" mode): outcomes, topics and trends per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.processor.pipeline import HashingEmbedder, Pipeline, PipelineConfig
from services.processor.pipeline.normalize import DropReason
from streams.messages.records import RawItem, TrendUpdate
from tests.factories import make_item

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
OUTAGE = [
    "Nimbus Cloud outage takes down us-east apps",
    "Nimbus Cloud outage takes down us-east websites",
    "Nimbus Cloud outage in us-east takes down banks",
    "Nimbus Cloud us-east outage takes down streaming",
]


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline(PipelineConfig(), HashingEmbedder())


def _item(title: str, minutes: int, **fields: Any) -> RawItem:
    return make_item(title=title, published_at=T0 + timedelta(minutes=minutes), **fields)


def test_empty_items_are_dropped_and_counted(pipeline: Pipeline) -> None:
    item = make_item(title="<p> </p>", text="")
    result = pipeline.process([item])
    assert [(o.item_id, o.dropped) for o in result.outcomes] == [(item.key, DropReason.EMPTY)]
    assert pipeline.dropped == {"empty": 1}


def test_items_are_handled_in_time_order(pipeline: Pipeline) -> None:
    items = [_item(title, minutes=-index) for index, title in enumerate(OUTAGE)]
    result = pipeline.process(items)
    assert [o.item_id for o in result.outcomes] == [item.key for item in reversed(items)]
    assert pipeline.now == T0


def test_similar_items_form_a_labelled_topic(pipeline: Pipeline) -> None:
    items = [_item(title, minutes=10 * index) for index, title in enumerate(OUTAGE)]
    result = pipeline.process(items)
    assert len({o.topic_id for o in result.outcomes}) == 1
    [topic] = result.topics
    assert topic.size == 4
    assert "nimbus" in topic.label
    assert topic.representative_title in OUTAGE
    assert {pipeline.topic_of(item.key) for item in items} == {topic.topic_id}


def test_candidates_below_the_minimum_size_are_not_topics(pipeline: Pipeline) -> None:
    result = pipeline.process([_item(OUTAGE[0], 0), _item("My sourdough starter lives", 5)])
    assert result.topics == []
    assert result.trends == []
    assert pipeline.topic_of(result.outcomes[0].item_id) is None


def test_exact_duplicates_join_their_original_without_counting(pipeline: Pipeline) -> None:
    items = [_item(title, minutes=10 * index) for index, title in enumerate(OUTAGE[:3])]
    repost = _item(OUTAGE[0].upper(), minutes=40, source="reddit")
    result = pipeline.process([*items, repost, items[1]])
    outcomes = {o.item_id: o for o in result.outcomes}
    assert outcomes[repost.key].duplicate_of == items[0].key
    assert outcomes[repost.key].topic_id == outcomes[items[0].key].topic_id
    assert result.topics[0].size == 3
    assert result.topics[0].duplicates == 1
    assert result.trends[0].window_count == 3


def test_near_duplicates_join_their_original_without_counting(pipeline: Pipeline) -> None:
    items = [_item(title, minutes=10 * index) for index, title in enumerate(OUTAGE[:3])]
    pipeline.process(items)
    result = pipeline.process([_item(OUTAGE[2] + "!", minutes=60, source="mastodon")])
    assert result.outcomes[0].duplicate_of == items[2].key
    assert (result.topics[0].size, result.topics[0].duplicates) == (3, 1)


def test_trend_snapshots_become_trend_updates(pipeline: Pipeline) -> None:
    items = [_item(title, 10 * i, score=None, comments=None) for i, title in enumerate(OUTAGE)]
    [trend] = pipeline.process(items).trends
    assert (trend.previous_state, trend.window_count, trend.item_count) == (None, 4, 4)
    update = trend.to_update(rank=1)
    assert isinstance(update, TrendUpdate)
    assert (update.topic_id, update.state, update.rank) == (trend.topic_id, trend.state, 1)
    assert update.keywords == list(trend.keywords)
    later = pipeline.process([_item("Nimbus Cloud us-east outage takes down payroll", 50)])
    assert later.trends[0].previous_state == trend.state


def test_a_restored_pipeline_continues_where_it_stopped(pipeline: Pipeline) -> None:
    items = [_item(title, minutes=10 * index) for index, title in enumerate(OUTAGE[:3])]
    topic_id = pipeline.process(items).topics[0].topic_id
    restored = Pipeline(PipelineConfig(), HashingEmbedder())
    restored.restore(pipeline.state())
    assert [topic.topic_id for topic in restored.topics()] == [topic_id]
    result = restored.process([_item(OUTAGE[3], minutes=40)])
    assert result.outcomes[0].topic_id == topic_id


def test_trends_are_recomputed_for_touched_topics_and_on_a_new_bucket(pipeline: Pipeline) -> None:
    chess = [f"Grandmaster Varkov wins round {n} of the Zenith chess final" for n in range(1, 5)]
    first = pipeline.process(
        [_item(t, 5 * i) for i, t in enumerate(OUTAGE)]
        + [_item(t, 5 * i + 1) for i, t in enumerate(chess)]
    )
    assert len(first.trends) == 2
    assert first.ranks == {t.topic_id: n for n, t in enumerate(first.trends, start=1)}
    outage = pipeline.topic_of(first.outcomes[0].item_id)
    same_hour = pipeline.process([_item("Nimbus Cloud us-east outage takes down payroll", 30)])
    assert [t.topic_id for t in same_hour.trends] == [outage]
    next_hour = pipeline.process([_item("Nimbus Cloud us-east outage takes down email", 70)])
    assert {t.topic_id for t in next_hour.trends} == {t.topic_id for t in first.trends}
    assert next_hour.trends == pipeline.trends()


def test_a_pipeline_restored_from_its_saved_changes_is_the_same(pipeline: Pipeline) -> None:
    rows: dict[str, tuple[int, dict[str, Any]]] = {}
    head: dict[str, Any] = {}
    frequency: dict[str, int] = {}
    for minutes, title in zip((0, 10, 70, 80), OUTAGE, strict=True):
        pipeline.process([_item(title, minutes)])
        changes = pipeline.state_changes()
        head = changes.head
        rows.update((topic["topic_id"], (n, topic)) for n, topic in changes.topics.changed)
        frequency.update(changes.entities)
        pipeline.state_saved(changes)
    assert pipeline.state_changes().topics.changed == []
    assert pipeline.state_changes().entities == {}
    topics = [{**topic, "position": n} for n, topic in rows.values()]  # positions decide
    restored = Pipeline(PipelineConfig(), HashingEmbedder())
    restored.restore({**head, "frequency": frequency, "clusterer": {"topics": topics}})
    assert restored.state() == pipeline.state()
    whole = Pipeline(PipelineConfig(), HashingEmbedder())
    whole.restore(pipeline.state(), saved=False)
    assert len(whole.state_changes().topics.changed) == len(pipeline.clusterer.topics)


def test_a_story_that_returns_after_going_quiet_gets_its_topic_back(pipeline: Pipeline) -> None:
    first = pipeline.process([_item(title, 10 * index) for index, title in enumerate(OUTAGE)])
    (topic,) = first.topics
    pipeline.process([_item("Sourdough starter tips for beginners", 60 * 60)])  # 60 h later
    assert topic.topic_id not in pipeline.clusterer.topics  # quiet: archived
    back = [f"Nimbus Cloud us-east outage takes down {it} again" for it in ("apps", "banks", "tv")]
    again = pipeline.process([_item(title, 61 * 60 + n) for n, title in enumerate(back)])
    assert topic.topic_id in pipeline.clusterer.topics
    assert {pipeline.topic_of(o.item_id) for o in again.outcomes} == {topic.topic_id}
    assert set(again.merged.values()) == {topic.topic_id}
    assert next(t for t in again.topics if t.topic_id == topic.topic_id).size == 7
