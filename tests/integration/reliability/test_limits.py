"""Time limits, cancellation and retries that do not hold back a partition, on a real collector."""

from __future__ import annotations

from collections.abc import Callable

from streams.config import Settings
from streams.messages.records import RequestState
from streams.messages.topics import COLLECT_REQUESTS, ensure_topics
from streams.requests.client import RequestHandle
from tests.factories import make_request
from tests.integration.reliability.conftest import ROOT
from tests.support.http import FixtureServer, Reply
from tests.support.kafka import produce, wait_final
from tests.support.workers import Worker, apoll

TOP = "/v0/topstories.json"


def _hn(request_id: str) -> bytes:
    return make_request(
        plugin="hackernews", request_id=request_id, options={"limit": 1}, dry_run=True
    ).dumps()


async def _state(settings: Settings, request_id: str, state: RequestState) -> bool:
    handle = RequestHandle(request_id, settings)
    try:
        return await handle.state() is state
    finally:
        await handle.close()


async def test_a_message_waiting_for_its_retry_does_not_hold_back_its_partition(
    retry_settings: Settings, fixture_server: FixtureServer, collector_with: Callable[..., Worker]
) -> None:
    fixture_server.route(TOP, Reply(503))
    settings = retry_settings.model_copy(update={"file_plugin_dir": ROOT, "retry_backoff_s": 60})
    collector_with(settings, collector_concurrency=1)
    await produce(settings, COLLECT_REQUESTS, _hn("waits-1"), key=b"one-key")
    later = make_request(request_id="later-1")
    await produce(settings, COLLECT_REQUESTS, later.dumps(), key=b"one-key")

    finals = await wait_final(settings, {"later-1"})
    assert finals["later-1"].state is RequestState.SUCCESS
    handle = RequestHandle("waits-1", settings)
    try:
        waiting = await handle.status()
    finally:
        await handle.close()
    assert waiting is not None and waiting.state is RequestState.RETRY
    assert waiting.eta is not None
    assert finals["later-1"].timings["finished"] < waiting.eta.timestamp() - 30


async def test_the_soft_time_limit_stops_a_slow_collection(
    retry_settings: Settings, fixture_server: FixtureServer, collector_with: Callable[..., Worker]
) -> None:
    fixture_server.route(TOP, Reply(200, b"[]", delay=30))
    collector_with(retry_settings, collect_soft_time_limit_s=1.0, collect_max_retries=0)
    await produce(retry_settings, COLLECT_REQUESTS, _hn("slow-1"), key=b"slow-1")
    status = (await wait_final(retry_settings, {"slow-1"}, timeout=60))["slow-1"]
    assert (status.state, status.error_type) == (RequestState.FAILURE, "SoftTimeLimitExceeded")
    assert status.timings["finished"] - status.timings["started"] < 5


async def test_cancel_a_running_and_a_queued_request(
    retry_settings: Settings, fixture_server: FixtureServer, collector_with: Callable[..., Worker]
) -> None:
    fixture_server.route(TOP, Reply(200, b"[]", delay=60))
    collector_with(retry_settings, collector_concurrency=1, revoke_check_s=0.2)
    await produce(retry_settings, COLLECT_REQUESTS, _hn("running-1"), key=b"k")
    await produce(retry_settings, COLLECT_REQUESTS, _hn("queued-1"), key=b"k")
    assert await apoll(lambda: _state(retry_settings, "running-1", RequestState.STARTED), 60)

    for request_id in ("queued-1", "running-1"):
        handle = RequestHandle(request_id, retry_settings)
        await handle.cancel(issued_by="test")
        await handle.close()
    finals = await wait_final(retry_settings, {"running-1", "queued-1"}, timeout=60)
    assert finals["running-1"].state is RequestState.REVOKED
    assert finals["queued-1"].state is RequestState.REVOKED
    assert "before it ran" in (finals["queued-1"].error or "")
    assert "started" not in finals["queued-1"].timings


async def test_a_cancellation_made_while_no_worker_runs_holds_after_the_start(
    retry_settings: Settings, collector_with: Callable[..., Worker]
) -> None:
    settings = retry_settings.model_copy(update={"file_plugin_dir": ROOT})
    await ensure_topics(settings)
    handle = RequestHandle("cancelled-early", settings)
    await handle.cancel(issued_by="test")
    await handle.close()
    await produce(settings, COLLECT_REQUESTS, make_request(request_id="cancelled-early").dumps())
    collector_with(settings)
    status = (await wait_final(settings, {"cancelled-early"}))["cancelled-early"]
    assert status.state is RequestState.REVOKED
