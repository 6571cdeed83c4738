"""Failed collections wait in retry topics, then succeed or land in the dead-letter topic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streams.config import Settings
from streams.messages.records import RequestState, RequestStatus
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS
from streams.reliability.deadletter import DeadLetterFilter, DeadLetters
from tests.factories import make_request
from tests.support.http import FixtureServer, Reply
from tests.support.kafka import produce, read_until
from tests.support.workers import Worker, apoll

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hackernews"
TOP = "/v0/topstories.json"


def _route_stories(server: FixtureServer, *first: Reply) -> None:
    """Hacker News `top` answers `first` in order, then the fixture list; items are served."""
    server.route(TOP, *first, Reply.file(FIXTURES / "topstories.json"))
    for path in sorted((FIXTURES / "items").glob("*.json")):
        server.route(f"/v0/item/{path.name}", Reply.file(path))


async def _statuses(
    settings: Settings, request_id: str, state: RequestState
) -> list[RequestStatus]:
    """Every status of one request, read until it reached `state`."""

    def mine(values: list[bytes]) -> list[RequestStatus]:
        statuses = [RequestStatus.parse(value) for value in values]
        return [status for status in statuses if status.request_id == request_id]

    values = await read_until(
        settings, COLLECT_RESULTS, lambda v: any(s.state is state for s in mine(v)), 120
    )
    return mine(values)


def _hn_request(request_id: str) -> bytes:
    request = make_request(
        plugin="hackernews", request_id=request_id, options={"limit": 3}, dry_run=True
    )
    return request.dumps()


async def test_a_request_failing_twice_succeeds_after_two_retries_each_after_its_backoff(
    retry_settings: Settings, fixture_server: FixtureServer, collector_with: Callable[..., Worker]
) -> None:
    _route_stories(fixture_server, Reply(503), Reply(503))
    collector_with(retry_settings)
    await produce(retry_settings, COLLECT_REQUESTS, _hn_request("flaky-1"), key=b"flaky-1")

    statuses = await _statuses(retry_settings, "flaky-1", RequestState.SUCCESS)
    states = [status.state for status in statuses]
    assert states.count(RequestState.RETRY) == 2
    assert states[-1] is RequestState.SUCCESS
    retries = [status for status in statuses if status.state is RequestState.RETRY]
    assert [status.retries for status in retries] == [1, 2]
    assert "HTTP 503" in (retries[0].error or "")
    for retry, backoff in zip(retries, (1.0, 2.0), strict=True):
        assert retry.eta is not None and retry.updated_at is not None
        assert abs((retry.eta - retry.updated_at).total_seconds() - backoff) < 0.5
        after = statuses[statuses.index(retry) + 1]
        assert after.state is RequestState.RECEIVED
        assert after.updated_at is not None and after.updated_at >= retry.eta
    assert len(fixture_server.requests(TOP)) == 3


async def test_a_request_that_always_fails_is_dead_lettered_and_redrive_brings_it_to_success(
    retry_settings: Settings, fixture_server: FixtureServer, collector_with: Callable[..., Worker]
) -> None:
    _route_stories(fixture_server, Reply(503))
    fixture_server.route(TOP, Reply(503))
    collector_with(retry_settings, collect_max_retries=2)
    await produce(retry_settings, COLLECT_REQUESTS, _hn_request("doomed-1"), key=b"doomed-1")

    statuses = await _statuses(retry_settings, "doomed-1", RequestState.FAILURE)
    assert [s.state for s in statuses].count(RequestState.RETRY) == 2
    assert statuses[-1].retries == 3
    letters = DeadLetters(retry_settings)
    only_requests = DeadLetterFilter(topic="collect.requests")
    [letter] = await apoll(lambda: letters.entries(only_requests), 30)
    info = letter.describe()
    assert info["error_class"] == "PluginError"
    assert "HTTP 503" in info["error_message"]
    assert "Traceback" in info["traceback"]
    assert info["attempts"] == 3
    assert info["key"] == "doomed-1"
    assert info["original"]["topic"] == COLLECT_REQUESTS.full_name(retry_settings)
    assert info["original"]["offset"] == 0
    assert info["original_timestamp"] > 0
    assert len(info["history"]) == 3
    assert await letters.summary() == {"collect.requests": {"PluginError": 1}}

    _route_stories(fixture_server)
    assert await letters.redrive(DeadLetterFilter(ids=frozenset({letter.id}))) == [letter.id]
    assert await letters.redrive(DeadLetterFilter(ids=frozenset({letter.id}))) == []
    statuses = await _statuses(retry_settings, "doomed-1", RequestState.SUCCESS)
    assert statuses[-1].state is RequestState.SUCCESS
    assert await letters.entries() == []
