"""The processor through a server outage while items flow: every stage waits it out in place
(nothing on a retry topic, nothing dead-lettered, no worker stops), every item is stored once
and reported once as new, and a job asked meanwhile ends SUCCESS without a retry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.config import Settings
from streams.messages.records import ProcessRequest, RequestState, RequestStatus
from streams.messages.topics import (
    ITEMS_RAW,
    PROCESS_REQUESTS,
    PROCESS_RESULTS,
    RETRY_LEVELS,
    ensure_topics,
    retry_topic,
)
from streams.reliability.deadletter import DeadLetters
from tests.support.corpus import LabelledItem, load_corpus
from tests.support.kafka import produce, read_all, wait_final
from tests.support.processing import (
    Feeder,
    assignment,
    cluster_owner_pid,
    fetch,
    start_processors,
)
from tests.support.stack import stack
from tests.support.workers import Worker, poll

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
OUTAGE_S = 10.0
"""How long PostgreSQL stays away at least (the rebalance inside it takes some of it)."""
SLICE = 8
SLICE_EVERY_S = 0.5
"""Items arrive SLICE at a time, one slice every SLICE_EVERY_S, all through the outage."""


def _fast(settings: Settings) -> Settings:
    """Short batches, and an outage retried at least every second once the server is back."""
    return settings.model_copy(update={"processor_batch_within_s": 0.2, "outage_retry_max_s": 1.0})


async def _stream(feeder: Feeder, entries: list[LabelledItem], request_id: str) -> None:
    """Send the entries a slice at a time: items keep arriving while the server is away."""
    for start in range(0, len(entries), SLICE):
        await feeder.send(entries[start : start + SLICE], request_id)
        await asyncio.sleep(SLICE_EVERY_S)  # the load's pace, not a synchronisation


async def _assert_nothing_retried_or_dead(settings: Settings) -> None:
    for spec in (ITEMS_RAW, PROCESS_REQUESTS):
        for level in range(1, RETRY_LEVELS + 1):
            waiting = await read_all(settings, retry_topic(spec, level))
            assert waiting == [], f"{len(waiting)} message(s) on {spec.name}.retry.{level}"
    assert await DeadLetters(settings).entries() == []


async def _assert_stored_once_and_reported_new(
    settings: Settings, feeder: Feeder, requests: dict[str, list[LabelledItem]]
) -> None:
    total = sum(len(entries) for entries in requests.values())
    (row,) = await fetch(
        settings,
        "SELECT count(*) AS n, count(DISTINCT (source, source_id)) AS keys, "
        "count(processed_at) AS processed FROM items",
    )
    assert (row["n"], row["keys"], row["processed"]) == (total, total, total)
    for request_id, entries in requests.items():
        keys = {entry.item.key for entry in entries}
        assert feeder.handled[request_id] == keys, f"{request_id}: items not reported"
        assert feeder.new[request_id] == keys, f"{request_id}: items not reported new"


def _waited_in_place(worker: Worker) -> bool:
    return "retrying in place" in worker.output()


def _holds_every_partition(worker: Worker, settings: Settings) -> bool:
    raw = ITEMS_RAW.full_name(settings)
    wanted = {f"{raw}:{n}" for n in range(settings.topic_partitions)}
    return wanted <= set(assignment(worker))


async def test_postgres_away_while_items_flow_is_waited_out_in_place(
    private_postgres: Settings, start_workers: StartWorkers, tmp_path: Path
) -> None:
    settings = _fast(private_postgres)
    await ensure_topics(settings)
    workers = start_processors(start_workers, settings, 2, tmp_path)
    corpus = load_corpus()
    requests = {"before": corpus[:24], "during": corpus[24:120], "after": corpus[120:144]}
    async with Feeder(settings, timeout_s=90) as feeder:
        await feeder.feed(requests["before"], "before")  # the cluster stage is held in memory
        owner_pid = await cluster_owner_pid(settings)
        [owner] = [worker for worker in workers if worker.process.pid == owner_pid]
        [other] = [worker for worker in workers if worker is not owner]

        await asyncio.to_thread(stack, settings, "stop", "postgres")
        away = time.monotonic()
        await asyncio.to_thread(other.stop)  # a rebalance with the database away
        held = await asyncio.to_thread(poll, lambda: _holds_every_partition(owner, settings), 60)
        assert held, f"the owner never took the partitions over: {assignment(owner)}"
        await _stream(feeder, requests["during"], "during")
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - away)))  # the fault itself
        await asyncio.to_thread(stack, settings, "start", "postgres")
        await feeder.send(requests["after"], "after")
        for request_id in ("during", "after"):
            await feeder.wait(request_id, len(requests[request_id]))

    assert owner.process.poll() is None, owner.output()[-3000:]
    assert _waited_in_place(owner), "the outage never reached the processor"
    await _assert_nothing_retried_or_dead(settings)
    await _assert_stored_once_and_reported_new(settings, feeder, requests)


async def test_a_redis_restart_stops_no_item_and_loses_no_report(
    private_redis: Settings, start_workers: StartWorkers
) -> None:
    settings = _fast(private_redis)
    await ensure_topics(settings)
    [processor] = start_workers("processor", settings)
    corpus = load_corpus()
    requests = {"before": corpus[:24], "during": corpus[24:72], "after": corpus[72:96]}
    sample = {"source": "hackernews", "source_id": "asked-away", "title": "A sample item"}
    job = ProcessRequest(
        job="test_pipeline", options={"items": [sample]}, request_id="asked-while-redis-away"
    )
    async with Feeder(settings, timeout_s=90) as feeder:
        await feeder.feed(requests["before"], "before")
        stack(settings, "stop", "redis")
        await produce(settings, PROCESS_REQUESTS, job.dumps(), key=job.request_id.encode())
        await feeder.feed(requests["during"], "during")  # items need no Redis: they flow on
        stack(settings, "start", "redis")
        await feeder.feed(requests["after"], "after")

    await wait_final(settings, {job.request_id}, results=PROCESS_RESULTS)
    statuses = [RequestStatus.parse(value) for value in await read_all(settings, PROCESS_RESULTS)]
    states = [status.state for status in statuses if status.request_id == job.request_id]
    assert states[-1] is RequestState.SUCCESS and RequestState.RETRY not in states, states
    assert processor.process.poll() is None, processor.output()[-3000:]
    assert _waited_in_place(processor), "the job never met the outage"
    await _assert_nothing_retried_or_dead(settings)
    await _assert_stored_once_and_reported_new(settings, feeder, requests)
