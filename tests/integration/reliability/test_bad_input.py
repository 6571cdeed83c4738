"""Bad input on every request topic: refused at once (FAILURE, one dead letter, no retry)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.config import Settings
from streams.messages.records import RequestState, RequestStatus, is_request_id
from streams.messages.topics import (
    ALERTS,
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    CONTROL,
    ITEMS_ENRICHED,
    ITEMS_RAW,
    MAINTENANCE_REQUESTS,
    PROCESS_REQUESTS,
    PROCESSING_REPORTS,
    TopicSpec,
)
from streams.reliability.deadletter import DeadLetterFilter, DeadLetters
from streams.reliability.decoding import RequestTooLargeError
from streams.requests.client import request_collection
from streams.requests.state import RequestStates, redis_client
from tests.support.kafka import produce, read_all, wait_final
from tests.support.workers import Worker, apoll

ROOT = Path(__file__).resolve().parents[3]
TWO_MIB = 2 * 1024 * 1024
BAD_COLLECT = {
    "outside": ({"plugin": "file", "options": {"path": "../etc/passwd"}}, "PluginInputError"),
    "negative-limit": (
        {"plugin": "file", "options": {"path": "tests/fixtures/items.jsonl", "limit": -1}},
        "RecordValidationError",
    ),
    "missing-path": ({"plugin": "file", "options": {}}, "PluginInputError"),
    "no-such-file": ({"plugin": "file", "options": {"path": "nope.jsonl"}}, "PluginInputError"),
    "unknown-option": (
        {"plugin": "file", "options": {"path": "tests/fixtures/items.jsonl", "pth": 1}},
        "PluginInputError",
    ),
    "dry-run-yes": (
        {"plugin": "file", "options": {"path": "tests/fixtures/items.jsonl"}, "dry_run": "yes"},
        "RecordValidationError",
    ),
    "unknown-plugin": ({"plugin": "nope"}, "UnknownPluginError"),
}


async def _dead_letters(settings: Settings, topic: str, count: int) -> list[dict[str, object]]:
    letters = DeadLetters(settings)

    async def enough() -> list[dict[str, object]] | None:
        found = [e.describe() for e in await letters.entries(DeadLetterFilter(topic=topic))]
        return found if len(found) >= count else None

    found = await apoll(enough, 60)
    assert found, f"dead letters of {topic}: {await letters.summary()}"
    return found


async def test_bad_collect_requests_fail_at_once_and_are_dead_lettered_without_retry(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(
        update={"file_plugin_dir": ROOT, "collect_max_retries": 3, "retry_backoff_s": 0.5}
    )
    start_workers("collector", settings)
    for request_id, (body, _) in BAD_COLLECT.items():
        payload = json.dumps({**body, "request_id": request_id}).encode()
        await produce(settings, COLLECT_REQUESTS, payload, key=request_id.encode())

    finals = await wait_final(settings, set(BAD_COLLECT))
    for request_id, (_, error_type) in BAD_COLLECT.items():
        final = finals[request_id]
        assert (final.state, final.error_type) == (RequestState.FAILURE, error_type), final
        assert final.retries == 1, final
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    assert not [s for s in statuses if s.state is RequestState.RETRY and s.request_id in finals]
    letters = await _dead_letters(settings, "collect.requests", len(BAD_COLLECT))
    assert {letter["key"] for letter in letters} == set(BAD_COLLECT)
    assert {letter["attempts"] for letter in letters} == {1}


async def test_every_request_topic_refuses_oversized_requests_and_unknown_job_options(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    start_workers("processor", test_settings)
    start_workers("maintenance", test_settings)
    item = {"source": "test", "source_id": "1", "title": "x" * 1000}
    items = [{**item, "source_id": str(n)} for n in range(TWO_MIB // 1000)]
    big_process = {"job": "test_pipeline", "request_id": "big-process", "options": {"items": items}}
    big_health = {"job": "health", "request_id": "big-health", "options": {"note": "x" * TWO_MIB}}
    unknown = {"job": "cleanup", "request_id": "unknown-option", "options": {"dayz": 3}}
    loose = {"job": "cleanup", "request_id": "loose-type", "options": {"days": "3"}}
    await produce(test_settings, PROCESS_REQUESTS, json.dumps(big_process).encode(), b"big-process")
    bare = {"job": "test_pipeline", "request_id": "bare-pipeline"}
    await produce(test_settings, PROCESS_REQUESTS, json.dumps(bare).encode(), b"bare-pipeline")
    for body in (big_health, unknown, loose):
        payload = json.dumps(body).encode()
        await produce(
            test_settings, MAINTENANCE_REQUESTS, payload, str(body["request_id"]).encode()
        )

    states = RequestStates(redis_client(test_settings), test_settings)
    expected = {
        "big-process": "RequestTooLargeError",
        "big-health": "RequestTooLargeError",
        "bare-pipeline": "JobOptionsError",
        "unknown-option": "JobOptionsError",
        "loose-type": "JobOptionsError",
    }
    try:
        for request_id, error_type in expected.items():

            async def final(request_id: str = request_id) -> RequestStatus | None:
                status = await states.get(request_id)
                return status if status is not None and status.state.is_final else None

            status = await apoll(final, 60)
            assert status is not None, f"{request_id}: no final status"
            assert (status.state, status.error_type) == (RequestState.FAILURE, error_type)
    finally:
        await states.redis.aclose()
    process_letters = await _dead_letters(test_settings, "process.requests", 2)
    assert {
        (letter["key"], letter["error_class"], letter["attempts"]) for letter in process_letters
    } == {
        ("big-process", "RequestTooLargeError", 1),
        ("bare-pipeline", "JobOptionsError", 1),
    }
    letters = await _dead_letters(test_settings, "maintenance.requests", 3)
    assert {(letter["key"], letter["attempts"]) for letter in letters} == {
        ("big-health", 1),
        ("unknown-option", 1),
        ("loose-type", 1),
    }
    [unknown_letter] = [letter for letter in letters if letter["key"] == "unknown-option"]
    assert "options.dayz: unknown option" in str(unknown_letter["error_message"])


BAD_IDS = {
    "slash": "a/b",
    "newline": "a\nb",
    "nul": "a\x00b",
    "long": "x" * 10_000,
}


async def test_requests_with_bad_ids_are_dead_lettered_with_the_reason_on_every_topic(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    [collector] = start_workers("collector", settings)
    [maintenance] = start_workers("maintenance", settings)
    for name, request_id in BAD_IDS.items():
        key = f"bad-{name}".encode()
        collect = {"plugin": "file", "request_id": request_id, "options": {"path": "x.jsonl"}}
        await produce(settings, COLLECT_REQUESTS, json.dumps(collect).encode(), key)
        job = {"job": "health", "request_id": request_id}
        await produce(settings, MAINTENANCE_REQUESTS, json.dumps(job).encode(), key)
        command = {"command": "revoke", "request_id": request_id}
        await produce(settings, CONTROL, json.dumps(command).encode(), key)
    await produce(settings, COLLECT_REQUESTS, b'{"plugin": "file"}', key=b"a/b")

    expected = {"collect.requests": 5, "maintenance.requests": 4, "control": 4}
    for topic, count in expected.items():
        letters = await _dead_letters(settings, topic, count)
        assert len(letters) == count, letters
        for letter in letters:
            assert letter["attempts"] == 1
            assert letter["error_class"] == "RecordValidationError"
            message = str(letter["error_message"])
            assert "request_id: " in message, message
    finals = await wait_final(settings, {f"bad-{name}" for name in BAD_IDS})
    assert all(status.state is RequestState.FAILURE for status in finals.values())
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    answered = {status.request_id for status in statuses}
    assert all(is_request_id(request_id) for request_id in answered), answered
    assert any(request_id.startswith("invalid-") for request_id in answered)
    for worker in (collector, maintenance):
        assert "\x00" not in worker.output()
        assert worker.process.poll() is None


LONE_SURROGATES: dict[TopicSpec, bytes] = {
    COLLECT_REQUESTS: b'{"plugin": "file", "dry_run": true, "options": {"path": "\\ud800"}}',
    COLLECT_REQUESTS_PRIORITY: b'{"plugin": "file", "priority": 7, '
    b'"options": {"path": "tests/fixtures/items.jsonl", "x\\udc00": 1}}',
    CONTROL: b'{"command": "revoke", "request_id": "sur-revoked", "issued_by": "\\ud800"}',
    PROCESSING_REPORTS: b'{"request_id": "sur-report", "items_handled": 1, "items_new": 1, '
    b'"stage": "\\udfff"}',
    ITEMS_RAW: b'{"source": "test", "source_id": "sur-1", "title": "caf\\ud800"}',
    ITEMS_ENRICHED: b'{"key": "test:sur-2", "at": "2026-01-01T00:00:00Z", "title": "\\ud800"}',
    PROCESS_REQUESTS: b'{"job": "test_pipeline", "request_id": "sur-process", '
    b'"options": {"path": "\\ud800"}}',
    MAINTENANCE_REQUESTS: b'{"job": "health", "request_id": "sur-health", '
    b'"options": {"note": "\\ud800"}}',
    ALERTS: b'{"source": "test", "subject": "sur", "severity": "info", "message": "m", '
    b'"details": {"\\ud800": 1}}',
}
"""One message per consumed topic, valid but for a lone surrogate (valid JSON, not text)."""


async def test_a_lone_surrogate_is_dead_lettered_at_once_with_the_reason_on_every_topic(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(
        update={"file_plugin_dir": ROOT, "collect_max_retries": 3, "retry_backoff_s": 0.2}
    )
    workers = [
        *start_workers("collector", settings),
        *start_workers("processor", settings),
        *start_workers("maintenance", settings),
    ]
    for spec, payload in LONE_SURROGATES.items():
        await produce(settings, spec, payload, key=f"sur-{spec.name}".encode())

    letters = DeadLetters(settings)
    for spec in LONE_SURROGATES:
        key = f"sur-{spec.name}"

        async def found(key: str = key) -> list[dict[str, object]]:
            return [e.describe() for e in await letters.entries() if e.describe()["key"] == key]

        [letter] = await apoll(found, 60) or [{"key": key, "missing": await letters.summary()}]
        assert letter["attempts"] == 1, letter
        assert letter["error_class"] == "RecordValidationError", letter
        assert "lone surrogate" in str(letter["error_message"]), letter
    requests = {f"sur-{spec.name}" for spec in (COLLECT_REQUESTS, COLLECT_REQUESTS_PRIORITY)}
    finals = await wait_final(settings, requests)
    assert all(final.state is RequestState.FAILURE for final in finals.values()), finals
    assert all(final.retries == 1 for final in finals.values()), finals
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    assert not [s for s in statuses if s.state is RequestState.RETRY and s.request_id in requests]
    assert all(worker.process.poll() is None for worker in workers)


MIB = 1024 * 1024


def _items(count: int, size: int) -> str:
    """`count` JSONL items whose titles hold `size` characters each."""
    return "".join(
        json.dumps({"source": "test", "source_id": str(n), "title": "x" * size}) + "\n"
        for n in range(count)
    )


async def test_messages_too_large_for_their_topic_are_refused_at_once_where_they_are_produced(
    test_settings: Settings, start_workers: Callable[..., list[Worker]], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "over-10-mib.jsonl").write_text(_items(1, 11 * MIB))
    (folder / "over-1-mib.jsonl").write_text(_items(1, 2 * MIB))
    (folder / "big-sample.jsonl").write_text(_items(5, 300_000))
    settings = test_settings.model_copy(
        update={"file_plugin_dir": folder, "collect_max_retries": 3, "retry_backoff_s": 0.2}
    )
    start_workers("collector", settings)
    runs = {
        "item-over-10-mib": ({"path": "over-10-mib.jsonl"}, False, "item test:0 is 11,534,"),
        "item-over-1-mib": ({"path": "over-1-mib.jsonl"}, False, "item test:0 is 2,097,"),
        "sample-over-1-mib": (
            {"path": "big-sample.jsonl", "sample_size": 5},
            True,
            "the SUCCESS status of request sample-over-1-mib is 1,50",
        ),
    }
    for request_id, (options, dry_run, _) in runs.items():
        await request_collection(
            "file", options=options, dry_run=dry_run, request_id=request_id, settings=settings
        )
    for size in (11 * MIB, 2 * MIB):
        with pytest.raises(RequestTooLargeError, match="MAX_REQUEST_BYTES is 1,048,576"):
            await request_collection(
                "file",
                options={"path": "x", "pad": "x" * size},
                request_id="big",
                settings=settings,
            )

    finals = await wait_final(settings, set(runs))
    for request_id, (_, _, message) in runs.items():
        final = finals[request_id]
        assert (final.state, final.error_type) == (RequestState.FAILURE, "MessageTooLargeError")
        assert final.retries == 1 and message in str(final.error), final
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    assert not [s for s in statuses if s.state is RequestState.RETRY and s.request_id in runs]
    assert "big" not in {s.request_id for s in statuses}
    states = RequestStates(redis_client(settings), settings)
    try:
        assert await states.get("big") is None, "a refused request was recorded"
    finally:
        await states.redis.aclose()
