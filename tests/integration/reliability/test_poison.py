"""Poison messages on every consumed topic: dead-lettered with the reason; the worker goes on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from streams.config import Settings
from streams.messages.records import Alert, ControlCommand, ProcessingReport, RequestState
from streams.messages.topics import (
    ALERTS,
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    CONTROL,
    ITEMS_RAW,
    MAINTENANCE_REQUESTS,
    PROCESS_REQUESTS,
    PROCESSING_REPORTS,
    TopicSpec,
)
from streams.reliability.deadletter import DeadLetters
from streams.requests.client import request_processing
from streams.requests.state import RequestStates, redis_client
from tests.factories import make_item, make_request
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
    PROCESS_REQUESTS,
    MAINTENANCE_REQUESTS,
    ALERTS,
)


async def _poison(settings: Settings, spec: TopicSpec, key: bytes) -> None:
    for value in POISON.values():
        await produce(settings, spec, value, key=key)


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

    bulk, urgent = make_request(request_id="good-bulk"), make_request(request_id="good-urgent")
    await produce(test_settings, COLLECT_REQUESTS, bulk.dumps(), key=key)
    await produce(test_settings, COLLECT_REQUESTS_PRIORITY, urgent.dumps(), key=key)
    revoked = f"revoked-{uuid.uuid4().hex[:6]}"
    command = ControlCommand(command="revoke", request_id=revoked, issued_by="test")
    await produce(test_settings, CONTROL, command.dumps(), key=key)
    report = ProcessingReport(request_id="nobody-waits", items_handled=1, items_new=1)
    await produce(test_settings, PROCESSING_REPORTS, report.dumps(), key=key)
    item = make_item()
    await produce(test_settings, ITEMS_RAW, item.dumps(), key=key)
    alert = Alert(source="test", subject="poison", severity="info", message="after the poison")
    await produce(test_settings, ALERTS, alert.dumps(), key=key)

    finals = await wait_final(test_settings, {"good-bulk", "good-urgent"})
    assert finals["good-bulk"].state is finals["good-urgent"].state is RequestState.SUCCESS
    states = RequestStates(redis_client(test_settings), test_settings)
    assert await apoll(lambda: states.is_revoked(revoked), 30)
    assert await apoll(lambda: _processed(test_settings, item.source_id), 90)
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
        done = all(sum(summary.get(spec.name, {}).values()) == len(POISON) for spec in CONSUMED)
        return summary if done else None

    summary = await apoll(all_dead, 60)
    assert summary, f"dead letters: {await letters.summary()}"
    assert summary["collect.requests"] == {"RecordValidationError": 3, "RequestTooLargeError": 1}
    assert summary["items.raw"] == {"RecordValidationError": 4}
    for letter in await letters.entries():
        info = letter.describe()
        assert info["error_message"], info
        assert info["key"] == key.decode()
        assert info["attempts"] == 1
    sizes = sorted(letter.describe()["value_bytes"] for letter in await letters.entries())
    assert sizes[-1] > 5_000_000
    assert all(worker.process.poll() is None for worker in workers)
