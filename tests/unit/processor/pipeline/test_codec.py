"""The saved form of the topics: one format, older ones read through a migration."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from services.processor.pipeline.codec import (
    FORMAT,
    decode_archived,
    decode_state,
    decode_topic,
    encode_state,
    encode_topic,
)
from services.processor.pipeline.embed import pack_vector
from services.processor.pipeline.scoring import Activity
from services.processor.pipeline.topic import TopicState

T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def _topic(topic_id: str = "t1") -> TopicState:
    vector = np.asarray([0.6, 0.8, 0.0], dtype=np.float32)
    return TopicState(
        topic_id,
        T0,
        T0 + timedelta(hours=2),
        3 * vector,
        size=3,
        duplicates=1,
        entity_counts=Counter({"nimbus": 3}),
        name_counts=Counter({"nimbus": 2}),
        terms=Counter({"outage": 3, "cloud": 2}),
        activity={100: Activity(2, 10, 4), 101: Activity(1, 0, 0)},
        keywords=["outage", "cloud"],
        label="outage · cloud",
        representative_id="a1",
        representative_title="Nimbus outage",
        representative_vector=vector,
        stale_from=100,
    )


def _format_1(topic: TopicState) -> dict[str, Any]:
    """A topic as rows saved before the codec hold it (no format; the oldest without
    name_counts and representative_vector)."""
    row = encode_topic(topic)
    del row["format"], row["name_counts"], row["representative_vector"]
    return row


def test_a_topic_round_trips_with_every_saved_field() -> None:
    topic = _topic()
    row = encode_topic(topic)
    assert row["format"] == FORMAT
    assert row["activity"] == {"100": [2, 10, 4], "101": [1, 0, 0]}
    assert "stale_from" not in row  # not saved: the trend looks again after a restore
    back = decode_topic(row)
    assert encode_topic(back) == row
    assert back.activity == topic.activity and back.terms == topic.terms
    np.testing.assert_allclose(back.centroid, topic.centroid)
    assert back.stale_from is None


def test_a_row_of_the_old_format_is_read_with_the_defaults_of_what_it_lacks() -> None:
    back = decode_topic(_format_1(_topic()))
    assert back.name_counts == Counter() and back.representative_vector is None
    assert (back.size, back.label, back.representative_id) == (3, "outage · cloud", "a1")
    assert encode_topic(back)["format"] == FORMAT


def test_a_newer_format_is_refused() -> None:
    with pytest.raises(ValueError, match="newer"):
        decode_topic({**encode_topic(_topic()), "format": FORMAT + 1})


def test_a_state_keeps_positions_and_the_archive() -> None:
    centroid = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    state = encode_state([(7, _topic("b")), (3, _topic("a"))], [("old", 2 * centroid, T0)])
    assert [(n, t.topic_id) for n, t in decode_state(state)] == [(3, "a"), (7, "b")]
    [(topic_id, vector, at)] = decode_archived(state)
    assert topic_id == "old" and at == T0
    np.testing.assert_allclose(vector, centroid)  # unit length again


def test_an_old_state_without_positions_keeps_its_list_order() -> None:
    rows = [_format_1(_topic(topic_id)) for topic_id in ("c", "a", "b")]
    archived = {"topic_id": "z", "vector_sum": pack_vector(np.ones(3, np.float32))}
    state = {"topics": rows, "archived": [{**archived, "last_active": T0.isoformat()}]}
    decoded = decode_state(state)
    assert [(n, t.topic_id) for n, t in decoded] == [(0, "c"), (1, "a"), (2, "b")]
    assert [entry[0] for entry in decode_archived(state)] == ["z"]


def test_rows_read_back_with_their_saved_positions_keep_them() -> None:
    rows = [{**encode_topic(_topic(t)), "position": n} for t, n in (("b", 9), ("a", 4))]
    assert [(n, t.topic_id) for n, t in decode_state({"topics": rows})] == [(4, "a"), (9, "b")]
