"""Group fan-out and aggregation, as pure functions."""

from __future__ import annotations

from typing import Any

from services.collector.groups import aggregate, children_of
from streams.messages.records import RequestState
from tests.factories import make_request


def _child(state: str, items: int, error: str | None = None) -> dict[str, Any]:
    return {"state": state, "items_collected": items, "items_published": items, "error": error}


def test_children_get_shared_and_own_options() -> None:
    parent = make_request(
        plugin="all",
        request_id="p1",
        priority=6,
        dry_run=True,
        options={"limit": 5, "plugins": {"reddit": {"subreddits": ["python"]}}},
    )
    hn, reddit = children_of(parent, ["hackernews", "reddit"])
    assert (hn.request_id, hn.parent_id, hn.plugin) == ("p1.hackernews", "p1", "hackernews")
    assert hn.options == {"limit": 5}
    assert reddit.options == {"limit": 5, "subreddits": ["python"]}
    assert (reddit.priority, reddit.dry_run) == (6, True)


def test_all_children_succeed() -> None:
    state, result, error = aggregate(
        ["a", "b"], {"a": _child("SUCCESS", 3), "b": _child("SUCCESS", 4)}
    )
    assert (state, error) == (RequestState.SUCCESS, None)
    assert result["items_collected"] == 7
    assert result["partial_failure"] is False
    assert result["failures"] == {}


def test_a_partial_failure_is_reported_as_such() -> None:
    children = {"a": _child("SUCCESS", 3), "b": _child("FAILURE", 0, "HTTP 503")}
    state, result, _ = aggregate(["a", "b"], children)
    assert state is RequestState.SUCCESS
    assert result["partial_failure"] is True
    assert result["failures"] == {"b": "HTTP 503"}
    assert result["children"]["a"]["items_collected"] == 3


def test_every_child_failing_fails_the_parent() -> None:
    children = {"a": _child("FAILURE", 0, "x"), "b": _child("REVOKED", 0)}
    state, result, error = aggregate(["a", "b"], children)
    assert state is RequestState.FAILURE
    assert error == "every plugin failed: a: x; b: REVOKED"
    assert result["partial_failure"] is False
