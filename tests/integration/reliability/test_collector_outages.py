"""The collector while one server is away: what its door answers and records, requests that run
or wait with PostgreSQL away, and request statuses and revocations across a Kafka restart."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from streams.config import Settings
from streams.messages.records import CollectRequest, RequestState, RequestStatus
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS
from streams.reliability.deadletter import DeadLetters
from streams.requests.client import RequestHandle
from streams.requests.state import RequestStates, redis_client
from tests.integration.reliability.conftest import AUTH
from tests.support.kafka import produce, read_all, wait_final
from tests.support.processing import fetch
from tests.support.stack import stack
from tests.support.workers import Worker, apoll

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
OPTIONS = {"path": "tests/fixtures/items.jsonl"}


def _body(request_id: str) -> dict[str, object]:
    return {"plugin": "file", "options": OPTIONS, "dry_run": True, "request_id": request_id}


async def _post(worker: Worker, request_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as web:
        return await web.post("/collect", json=_body(request_id), headers=AUTH)


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "unavailable" in response.json()["error"]


def _on_kafka(values: list[bytes], request_id: str) -> list[RequestStatus]:
    statuses = (RequestStatus.parse(value) for value in values)
    return [status for status in statuses if status.request_id == request_id]


async def _state(settings: Settings, request_id: str) -> RequestStatus | None:
    async with RequestHandle(request_id, settings) as handle:
        return await handle.status()


# --- the door: POST /collect -------------------------------------------------------------------


async def test_a_trigger_with_postgres_away_is_503_and_ends_failure(
    private_postgres: Settings, start_workers: StartWorkers
) -> None:
    settings = private_postgres
    [collector] = start_workers("collector", settings)
    stack(settings, "stop", "postgres")
    refused = await _post(collector, "pg-away")
    _assert_refused(refused)
    status = await _state(settings, "pg-away")
    assert status is not None and status.state is RequestState.FAILURE, status
    assert status.error is not None and "PostgreSQL is unavailable" in status.error
    [on_kafka] = _on_kafka(await read_all(settings, COLLECT_RESULTS), "pg-away")
    assert on_kafka.state is RequestState.FAILURE

    stack(settings, "start", "postgres")
    accepted = await apoll(lambda: _accepted(collector, "pg-back"), 60, interval=0.5)
    assert accepted, "POST /collect still refused once PostgreSQL was back"
    final = (await wait_final(settings, {"pg-back"}))["pg-back"]
    assert final.state is RequestState.SUCCESS


async def _accepted(worker: Worker, request_id: str) -> bool:
    return (await _post(worker, request_id)).status_code == 202


async def test_a_trigger_refused_while_redis_is_away_ends_failure_once_redis_is_back(
    private_redis: Settings, start_workers: StartWorkers
) -> None:
    settings = private_redis
    [collector] = start_workers("collector", settings)
    stack(settings, "stop", "redis")
    _assert_refused(await _post(collector, "redis-away"))
    [on_kafka] = _on_kafka(await read_all(settings, COLLECT_RESULTS), "redis-away")
    assert on_kafka.state is RequestState.FAILURE, on_kafka
    assert on_kafka.error is not None and "could not be sent" in on_kafka.error

    stack(settings, "start", "redis")
    async with httpx.AsyncClient(base_url=collector.url, timeout=30) as web:
        shown = await web.get("/requests/redis-away")
    assert shown.status_code == 200, shown.text
    assert shown.json()["state"] == "FAILURE"


# --- requests with PostgreSQL away --------------------------------------------------------------


async def test_requests_sent_while_postgres_is_away_run_and_end_right_once_it_is_back(
    private_postgres: Settings, start_workers: StartWorkers
) -> None:
    settings = private_postgres.model_copy(update={"outage_retry_max_s": 1.0})
    [collector] = start_workers("collector", settings)
    first = CollectRequest(plugin="file", options=OPTIONS, dry_run=True)
    await produce(settings, COLLECT_REQUESTS, first.dumps(), first.request_id.encode())
    assert (await wait_final(settings, {first.request_id}))[first.request_id].state.is_final

    stack(settings, "stop", "postgres")
    during = [CollectRequest(plugin="file", options=OPTIONS, dry_run=dry) for dry in (False, True)]
    for request in during:
        await produce(settings, COLLECT_REQUESTS, request.dumps(), request.request_id.encode())
    ids = {request.request_id for request in during}
    await apoll(lambda: _final_on_kafka(settings, ids), 30, interval=0.5)
    stack(settings, "start", "postgres")

    final = await wait_final(settings, ids)
    published, dry = (final[request.request_id] for request in during)
    assert (published.state, dry.state) == (RequestState.SUCCESS, RequestState.SUCCESS)
    assert published.result is not None and published.result["items_published"] == 5
    for request_id in ids:  # the final status is the last word, on Kafka and in Redis
        statuses = _on_kafka(await read_all(settings, COLLECT_RESULTS), request_id)
        assert statuses[-1].state is RequestState.SUCCESS, [s.state for s in statuses]
        assert [s.state for s in statuses].count(RequestState.SUCCESS) == 1
        cached = await _state(settings, request_id)
        assert cached is not None and cached.state is RequestState.SUCCESS

    async def recorded() -> set[str] | None:
        rows = await fetch(settings, "SELECT request_id FROM plugin_runs WHERE status = 'SUCCESS'")
        found = {row["request_id"] for row in rows}
        return found if ids <= found else None

    assert await apoll(recorded, 60, interval=0.5), "a run made while PostgreSQL was away is lost"
    assert await DeadLetters(settings).entries() == []
    assert collector.process.poll() is None


async def _final_on_kafka(settings: Settings, request_ids: set[str]) -> bool:
    values = await read_all(settings, COLLECT_RESULTS)
    return all(
        any(status.state.is_final for status in _on_kafka(values, request_id))
        for request_id in request_ids
    )


# --- Kafka restarted -----------------------------------------------------------------------------


async def _forget(redis: Redis, settings: Settings) -> None:
    """Every key of the namespace: Redis comes back empty, the cache is rebuilt from Kafka."""
    async for key in redis.scan_iter(f"{settings.namespace}*"):
        await redis.delete(key)


async def test_statuses_and_revocations_survive_a_kafka_restart(
    private_kafka: Settings, start_workers: StartWorkers
) -> None:
    settings = private_kafka
    [collector] = start_workers("collector", settings)
    done = CollectRequest(plugin="file", options=OPTIONS, dry_run=True)
    await produce(settings, COLLECT_REQUESTS, done.dumps(), done.request_id.encode())
    assert (await wait_final(settings, {done.request_id}))[done.request_id].state.is_final
    revoked = f"revoked-{uuid.uuid4().hex[:8]}"
    async with RequestHandle(revoked, settings) as handle:
        await handle.cancel(issued_by="test")  # revoked before it is ever sent

    stack(settings, "stop", "kafka")
    states = RequestStates(redis_client(settings), settings)
    try:
        away = await states.get(done.request_id)  # the cache answers while Kafka is away
        assert away is not None and away.state is RequestState.SUCCESS
        assert await states.is_revoked(revoked)
        stack(settings, "start", "kafka")

        late = CollectRequest(request_id=revoked, plugin="file", options=OPTIONS, dry_run=True)
        after = CollectRequest(plugin="file", options=OPTIONS, dry_run=True)
        for request in (late, after):
            await produce(settings, COLLECT_REQUESTS, request.dumps(), request.request_id.encode())
        final = await wait_final(settings, {revoked, after.request_id}, timeout=180)
        assert final[revoked].state is RequestState.REVOKED
        assert final[after.request_id].state is RequestState.SUCCESS

        await _forget(states.redis, settings)  # Kafka kept the history through its restart
        rebuilt = RequestStates(states.redis, settings)
        kept = await rebuilt.get(done.request_id)
        assert kept is not None and kept.state is RequestState.SUCCESS
        assert await rebuilt.is_revoked(revoked)
        assert [m["state"] for m in await rebuilt.timeline(done.request_id)] == [
            "RECEIVED",
            "STARTED",
            "SUCCESS",
        ]
    finally:
        await states.redis.aclose()
    assert collector.process.poll() is None
