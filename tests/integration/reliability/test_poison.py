"""Poison messages on every consumed topic and on the retry topics of those retried:
dead-lettered at once with the reason; the worker goes on with the next message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import asyncpg

from streams.config import Settings
from streams.messages.records import (
    Alert,
    ControlCommand,
    MaintenanceRequest,
    ProcessingReport,
    ProcessRequest,
    RequestState,
)
from streams.messages.topics import (
    ALERTS,
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    CONTROL,
    ITEMS_ENRICHED,
    ITEMS_RAW,
    MAINTENANCE_REQUESTS,
    MAINTENANCE_RESULTS,
    PROCESS_REQUESTS,
    PROCESS_RESULTS,
    PROCESSING_REPORTS,
    RETRY_LEVELS,
    TopicSpec,
    retry_topic,
)
from streams.reliability.deadletter import DeadLetters
from streams.requests.client import request_processing
from streams.requests.state import RequestStates, redis_client
from tests.factories import make_item, make_request
from tests.integration.reliability.test_bad_input import LONE_SURROGATES
from tests.support.kafka import produce, wait_final
from tests.support.workers import Worker, apoll, poll

ROOT = Path(__file__).resolve().parents[3]
POISON = {
    "malformed JSON": b'{"this is": not json',
    "wrong schema": b'{"unexpected_field": [1, 2, 3]}',
    "5 MB value": b'{"title": "' + b"x" * 5_000_000 + b'"}',
    "invalid UTF-8": b"\xff\xfe\xfd not text",
}
CONSUMED = (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    CONTROL,
    PROCESSING_REPORTS,
    ITEMS_RAW,
    ITEMS_ENRICHED,
    PROCESS_REQUESTS,
    MAINTENANCE_REQUESTS,
    ALERTS,
)
RETRIED = tuple(spec for spec in CONSUMED if spec.retried)
RETRY_POISON = ("malformed JSON", "wrong schema", "lone surrogate")
"""What is put by hand on each retry topic (no retry headers): the lone surrogate is the
topic's own message, valid but for it."""


def _dead_letters_expected(spec: TopicSpec) -> int:
    return len(POISON) + (RETRY_LEVELS * len(RETRY_POISON) if spec.retried else 0)


async def _poison(settings: Settings, spec: TopicSpec, key: bytes) -> None:
    for value in POISON.values():
        await produce(settings, spec, value, key=key)


async def _poison_retries(settings: Settings, spec: TopicSpec, key: bytes) -> None:
    values = {**POISON, "lone surrogate": LONE_SURROGATES[spec]}
    for level in range(1, RETRY_LEVELS + 1):
        for name in RETRY_POISON:
            await produce(settings, retry_topic(spec, level), values[name], key=key)


async def _after_retry_poison(settings: Settings, key: bytes) -> dict[str, TopicSpec]:
    """A good message on the first retry topic of each retried topic, behind its poison: the
    request ids to wait for (by results topic); the item is waited for by its key."""
    first = {spec: retry_topic(spec, 1) for spec in RETRIED}
    bulk = make_request(request_id="retried-bulk")
    urgent = make_request(request_id="retried-urgent")
    sample = {"source": "hackernews", "source_id": "retried-process", "title": "A sample item"}
    job = ProcessRequest(
        job="test_pipeline", options={"items": [sample]}, request_id="retried-process"
    )
    lag = MaintenanceRequest(job="lag", request_id="retried-maintenance")
    await produce(settings, first[COLLECT_REQUESTS], bulk.dumps(), key=key)
    await produce(settings, first[COLLECT_REQUESTS_PRIORITY], urgent.dumps(), key=key)
    await produce(settings, first[PROCESS_REQUESTS], job.dumps(), key=key)
    await produce(settings, first[MAINTENANCE_REQUESTS], lag.dumps(), key=key)
    return {
        "retried-bulk": COLLECT_RESULTS,
        "retried-urgent": COLLECT_RESULTS,
        "retried-process": PROCESS_RESULTS,
        "retried-maintenance": MAINTENANCE_RESULTS,
    }


async def _processed(settings: Settings, source_id: str) -> bool:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        query = "SELECT processed_at IS NOT NULL FROM items WHERE source_id = $1"
        return bool(await conn.fetchval(query, source_id))
    finally:
        await conn.close()


async def test_poison_on_each_consumed_topic_is_dead_lettered_and_the_next_message_handled(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    test_settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    workers = [
        *start_workers("collector", test_settings),
        *start_workers("processor", test_settings),
        *start_workers("maintenance", test_settings),
    ]
    key = b"same-partition"
    for spec in CONSUMED:
        await _poison(test_settings, spec, key)
    for spec in RETRIED:
        await _poison_retries(test_settings, spec, key)

    bulk, urgent = make_request(request_id="good-bulk"), make_request(request_id="good-urgent")
    await produce(test_settings, COLLECT_REQUESTS, bulk.dumps(), key=key)
    await produce(test_settings, COLLECT_REQUESTS_PRIORITY, urgent.dumps(), key=key)
    revoked = f"revoked-{uuid.uuid4().hex[:6]}"
    command = ControlCommand(command="revoke", request_id=revoked, issued_by="test")
    await produce(test_settings, CONTROL, command.dumps(), key=key)
    report = ProcessingReport(request_id="nobody-waits", items_handled=1, items_new=1)
    await produce(test_settings, PROCESSING_REPORTS, report.dumps(), key=key)
    item, retried_item = make_item(), make_item()
    await produce(test_settings, ITEMS_RAW, item.dumps(), key=key)
    await produce(test_settings, retry_topic(ITEMS_RAW, 1), retried_item.dumps(), key=key)
    retried = await _after_retry_poison(test_settings, key)
    alert = Alert(source="test", subject="poison", severity="info", message="after the poison")
    await produce(test_settings, ALERTS, alert.dumps(), key=key)

    finals = await wait_final(test_settings, {"good-bulk", "good-urgent"})
    assert finals["good-bulk"].state is finals["good-urgent"].state is RequestState.SUCCESS
    states = RequestStates(redis_client(test_settings), test_settings)
    assert await apoll(lambda: states.is_revoked(revoked), 30)
    for results in {*retried.values()}:
        wanted = {request_id for request_id, spec in retried.items() if spec is results}
        finals = await wait_final(test_settings, wanted, results=results)
        assert {finals[request_id].state for request_id in wanted} == {RequestState.SUCCESS}
    for source_id in (item.source_id, retried_item.source_id):
        assert await apoll(partial(_processed, test_settings, source_id), 90), source_id
    assert poll(lambda: "subject=poison" in workers[2].output(), 30)
    job = await request_processing(
        "test_pipeline",
        options={"path": "tests/fixtures/corpus/items.jsonl", "sample_size": 3},
        settings=test_settings,
    )
    async with job:
        assert (await job.result(timeout=120))["items"] == 3

    letters = DeadLetters(test_settings)

    async def all_dead() -> dict[str, dict[str, int]] | None:
        summary = await letters.summary()
        done = all(
            sum(summary.get(spec.name, {}).values()) == _dead_letters_expected(spec)
            for spec in CONSUMED
        )
        return summary if done else None

    summary = await apoll(all_dead, 60)
    assert summary, f"dead letters: {await letters.summary()}"
    by_hand = RETRY_LEVELS * len(RETRY_POISON)
    assert summary["collect.requests"] == {
        "RecordValidationError": 3 + by_hand,
        "RequestTooLargeError": 1,
    }
    assert summary["items.raw"] == {"RecordValidationError": 4 + by_hand}
    assert summary["items.enriched"] == {"RecordValidationError": 4}
    for letter in await letters.entries():
        info = letter.describe()
        assert info["error_message"], info
        assert info["key"] == key.decode()
        assert info["attempts"] == 1
    sizes = sorted(letter.describe()["value_bytes"] for letter in await letters.entries())
    assert sizes[-1] > 5_000_000
    assert all(worker.process.poll() is None for worker in workers)
