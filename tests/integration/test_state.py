"""Request states in the real Redis: latest status, the index by update time, timelines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from streams.config import Settings
from streams.messages.records import RequestState, RequestStatus
from streams.requests.state import TIMELINE_MAX, RequestStates, redis_client

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def states(test_settings: Settings) -> AsyncIterator[RequestStates]:
    """The request states of the test's namespace."""
    store = RequestStates(redis_client(test_settings), test_settings)
    yield store
    await store.redis.aclose()


def status(request_id: str, state: RequestState, minute: int, **fields: object) -> RequestStatus:
    return RequestStatus(
        request_id=request_id,
        state=state,
        updated_at=T0 + timedelta(minutes=minute),
        worker="w:1",
        **fields,
    )


async def test_recent_lists_the_latest_status_newest_first_with_filters(
    states: RequestStates,
) -> None:
    await states.save(status("a", RequestState.RECEIVED, 0, plugin="rss"))
    await states.save(status("b", RequestState.STARTED, 1, plugin="reddit"))
    await states.save(status("a", RequestState.SUCCESS, 2, plugin="rss"))
    await states.save(status("c", RequestState.RETRY, 3, plugin="rss", retries=1))

    assert [(s.request_id, s.state) for s in await states.recent()] == [
        ("c", RequestState.RETRY),
        ("a", RequestState.SUCCESS),
        ("b", RequestState.STARTED),
    ]
    assert [s.request_id for s in await states.recent(state="STARTED,RETRY")] == ["c", "b"]
    assert [s.request_id for s in await states.recent(state=RequestState.SUCCESS)] == ["a"]
    assert [s.request_id for s in await states.recent(plugin="rss")] == ["c", "a"]
    assert [s.request_id for s in await states.recent(limit=1)] == ["c"]


async def test_an_expired_status_leaves_the_listing(states: RequestStates) -> None:
    await states.save(status("gone", RequestState.SUCCESS, 0))
    await states.save(status("kept", RequestState.SUCCESS, 1))
    await states.redis.delete(states.prefix + "gone")
    assert [s.request_id for s in await states.recent()] == ["kept"]


async def test_the_timeline_keeps_every_status_oldest_first_capped(
    states: RequestStates,
) -> None:
    await states.save(status("r", RequestState.RECEIVED, 0))
    await states.save(status("r", RequestState.FAILURE, 1, error="boom", error_type="X"))
    timeline = await states.timeline("r")
    assert [m["state"] for m in timeline] == ["RECEIVED", "FAILURE"]
    assert timeline[1]["error"] == "boom" and timeline[1]["worker"] == "w:1"
    assert timeline[0]["at"] == T0.timestamp()
    for n in range(TIMELINE_MAX + 5):
        await states.save(status("many", RequestState.RETRY, n, retries=n))
    kept = await states.timeline("many")
    assert len(kept) == TIMELINE_MAX and kept[-1]["retries"] == TIMELINE_MAX + 4
    assert await states.timeline("unknown") == []
    assert 0 < await states.redis.ttl(states.prefix + "r:timeline") <= states.ttl
