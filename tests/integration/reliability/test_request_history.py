"""Request states and revocations survive Redis: Kafka holds them, Redis is a rebuilt cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from streams.config import Settings
from streams.messages.records import CollectRequest, ControlCommand, RequestState, RequestStatus
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_RESULTS,
    CONTROL,
    MAINTENANCE_RESULTS,
    PROCESS_RESULTS,
    TopicSpec,
    ensure_topics,
)
from streams.requests.client import RequestHandle, request_collection
from streams.requests.state import RequestStates, redis_client
from tests.integration.cli.conftest import run_trendctl
from tests.support.kafka import produce, wait_final
from tests.support.workers import Worker, apoll, free_port, settings_env

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
StartWorkers = Callable[..., list[Worker]]


def _status(request_id: str, state: RequestState, minute: int, **fields: object) -> RequestStatus:
    return RequestStatus(
        request_id=request_id,
        state=state,
        updated_at=T0 + timedelta(minutes=minute),
        worker="w:1",
        **fields,
    )


async def _publish(settings: Settings, *messages: tuple[TopicSpec, str, bytes]) -> None:
    """Produce (topic, key, value) messages in order, as the workers do."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all")
    await producer.start()
    try:
        for spec, key, value in messages:
            await producer.send_and_wait(spec.full_name(settings), value, key=key.encode())
    finally:
        await producer.stop()


async def _forget(redis: Redis, settings: Settings) -> None:
    """What Redis loses in a restart without persistence: every key of the namespace."""
    async for key in redis.scan_iter(f"{settings.namespace}*"):
        await redis.delete(key)


@pytest.fixture
async def redis(test_settings: Settings) -> AsyncIterator[Redis]:
    client = redis_client(test_settings)
    yield client
    await _forget(client, test_settings)
    await client.aclose()


def _states(moments: list[dict[str, object]]) -> list[object]:
    return [moment["state"] for moment in moments]


async def test_a_lost_cache_is_rebuilt_from_kafka_statuses_timelines_and_revocations(
    test_settings: Settings, redis: Redis
) -> None:
    settings = test_settings
    await ensure_topics(settings)
    revoke = ControlCommand(command="revoke", request_id="q1", issued_by="test")
    await _publish(
        settings,
        (COLLECT_RESULTS, "r1", _status("r1", RequestState.RECEIVED, 0, plugin="rss").dumps()),
        (COLLECT_RESULTS, "r1", _status("r1", RequestState.STARTED, 1, plugin="rss").dumps()),
        (COLLECT_RESULTS, "r1", _status("r1", RequestState.SUCCESS, 2, plugin="rss").dumps()),
        (PROCESS_RESULTS, "j1", _status("j1", RequestState.FAILURE, 3, error="boom").dumps()),
        (MAINTENANCE_RESULTS, "m1", _status("m1", RequestState.SUCCESS, 4).dumps()),
        (CONTROL, "q1", revoke.dumps()),
    )
    states = RequestStates(redis, settings)
    found = await states.get("r1")  # nothing in Redis for this namespace yet: rebuilt from Kafka
    assert found is not None and found.state is RequestState.SUCCESS
    assert _states(await states.timeline("r1")) == ["RECEIVED", "STARTED", "SUCCESS"]
    assert await states.is_revoked("q1") and not await states.is_revoked("r1")
    assert [s.request_id for s in await states.recent()] == ["m1", "j1", "r1"]

    await _forget(redis, settings)  # Redis comes back empty: the first read rebuilds it all
    assert await states.is_revoked("q1")
    failed = await RequestStates(redis, settings).get("j1")
    assert failed is not None and (failed.state, failed.error) == (RequestState.FAILURE, "boom")
    assert [s.request_id for s in await states.recent(state="SUCCESS")] == ["m1", "r1"]
    assert 0 < await redis.ttl(states.prefix + "r1") <= states.ttl


async def test_a_status_missing_from_redis_is_looked_up_in_kafka(
    test_settings: Settings, redis: Redis
) -> None:
    await ensure_topics(test_settings)
    await RequestStates(redis, test_settings).catch_up()  # a warm cache
    done = _status("late", RequestState.SUCCESS, 1)
    await _publish(test_settings, (COLLECT_RESULTS, "late", done.dumps()))  # Kafka only
    reader = RequestStates(redis, test_settings)  # e.g. `trendctl status` in a new process
    found = await reader.get("late")
    assert found is not None and found.state is RequestState.SUCCESS
    assert await reader.get("never-sent") is None


async def test_a_rebuild_keeps_newer_statuses_and_merges_timelines(
    test_settings: Settings, redis: Redis
) -> None:
    await ensure_topics(test_settings)
    states = RequestStates(redis, test_settings)
    steps = [_status("r3", state, n) for n, state in enumerate(("RECEIVED", "STARTED", "SUCCESS"))]
    for step in steps:
        await states.save(step)
    # Kafka has the first two (the third is still in flight); a rebuild must not go back.
    await _publish(test_settings, *[(COLLECT_RESULTS, "r3", s.dumps()) for s in steps[:2]])
    await redis.delete(states.offsets_key)
    report = await states.catch_up()
    assert report.full and report.statuses == 2
    kept = await states.get("r3")
    assert kept is not None and kept.state is RequestState.SUCCESS
    assert _states(await states.timeline("r3")) == ["RECEIVED", "STARTED", "SUCCESS"]
    again = await states.catch_up()
    assert not again.full and again.statuses == 0  # from where the last one ended


async def test_with_kafka_away_the_cache_answers_as_it_is(
    test_settings: Settings, redis: Redis
) -> None:
    away = test_settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    states = RequestStates(redis, away)
    await states.save(_status("here", RequestState.SUCCESS, 0))
    await states.revoke("gone")
    assert await states.get("unknown") is None
    assert await states.is_revoked("gone") and not await states.is_revoked("other")
    found = await states.get("here")
    assert found is not None and found.state is RequestState.SUCCESS


# --- a private Redis stopped and started while a collector runs ---------------------------------


def _stack(settings: Settings, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def private_redis(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on a Redis of its own started by the stack command, purged after."""
    settings = test_settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            "state_dir": tmp_path / "private",
            "file_plugin_dir": ROOT,
        }
    )
    _stack(settings, "start", "redis")
    try:
        yield settings
    finally:
        _stack(settings, "purge")


async def _statuses(settings: Settings, request_ids: list[str]) -> list[RequestState]:
    found = []
    for request_id in request_ids:
        async with RequestHandle(request_id, settings) as handle:
            found.append(await handle.state())
    return found


@pytest.mark.parametrize("data_lost", [False, True], ids=["restarted", "restarted-empty"])
async def test_a_redis_restart_mid_run_loses_no_status_and_no_revocation(
    private_redis: Settings, start_workers: StartWorkers, data_lost: bool
) -> None:
    settings = private_redis
    redis = redis_client(settings)
    try:
        assert (await redis.config_get("appendonly"))["appendonly"] == "yes"
    finally:
        await redis.aclose()
    start_workers("collector", settings)
    options = {"path": "tests/fixtures/items.jsonl"}
    done = []
    for _ in range(3):
        async with await request_collection(
            "file", options=options, dry_run=True, settings=settings
        ) as handle:
            await handle.result(timeout=60)
            done.append(handle.request_id)
    revoked = f"revoked-{uuid.uuid4().hex[:8]}"
    async with RequestHandle(revoked, settings) as handle:
        await handle.cancel(issued_by="test")  # revoked before it is ever sent

    _stack(settings, "stop", "redis")
    if data_lost:  # as if it ran without persistence, or on a new disk
        shutil.rmtree(settings.state_dir / "stack" / "redis" / "appendonlydir")
    during = CollectRequest(plugin="file", options=options, dry_run=True)
    await produce(settings, COLLECT_REQUESTS, during.dumps(), during.request_id.encode())
    _stack(settings, "start", "redis")

    assert await _statuses(settings, done) == [RequestState.SUCCESS] * 3
    shown = await run_trendctl(settings, "status", done[0], "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["state"] == "SUCCESS"
    assert [m["state"] for m in shown.json()["timeline"]] == ["RECEIVED", "STARTED", "SUCCESS"]

    late = CollectRequest(request_id=revoked, plugin="file", options=options, dry_run=True)
    await produce(settings, COLLECT_REQUESTS, late.dumps(), revoked.encode())
    final = await wait_final(settings, {revoked, during.request_id})
    assert final[during.request_id].state is RequestState.SUCCESS  # sent while Redis was away
    assert final[revoked].state is RequestState.REVOKED
    assert "revoked before it ran" in (final[revoked].error or "")

    async def cached() -> bool:
        states = await _statuses(settings, [during.request_id, revoked])
        return states == [RequestState.SUCCESS, RequestState.REVOKED]

    assert await apoll(cached, 30, interval=0.5)
