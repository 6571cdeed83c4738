"""The collector answers triggers produced by a plain Kafka client on collect.results."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import Settings
from streams.messages.records import RawItem, RequestState, RequestStatus
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_REQUESTS_PRIORITY,
    COLLECT_RESULTS,
    ITEMS_RAW,
)
from tests.factories import make_request
from tests.support.kafka import produce, read_until
from tests.support.workers import Worker, free_port, settings_env, start_worker

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def collector(test_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A collector worker in the test's namespace, reading files under the project root."""
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    worker = start_worker("collector", settings, tmp_path)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def _finals(values: list[bytes]) -> dict[str, RequestStatus]:
    statuses = [RequestStatus.parse(value) for value in values]
    return {s.request_id: s for s in statuses if s.state.is_final}


async def _results(settings: Settings, count: int) -> dict[str, RequestStatus]:
    values = await read_until(settings, COLLECT_RESULTS, lambda v: len(_finals(v)) >= count)
    return _finals(values)


async def test_a_trigger_is_answered_with_its_request_id(
    collector: Worker, test_settings: Settings
) -> None:
    trigger = {
        "plugin": "file",
        "request_id": "plain-client-1",
        "dry_run": True,
        "options": {"path": "tests/fixtures/items.jsonl", "limit": 3},
    }
    await produce(test_settings, COLLECT_REQUESTS, json.dumps(trigger).encode())
    status = (await _results(test_settings, 1))["plain-client-1"]
    assert status.state is RequestState.SUCCESS
    assert status.result is not None
    assert (status.result["items_collected"], len(status.result["sample"])) == (3, 3)
    assert status.worker.endswith(f":{collector.process.pid}")


async def test_bad_triggers_fail_clearly_and_the_worker_goes_on(
    collector: Worker, test_settings: Settings
) -> None:
    bad = {
        "bad-json": (b"{this is not json", "payload is not valid JSON"),
        "bad-field": (b'{"plugin": "file", "plugn": "x"}', "plugn: unknown field"),
        "bad-type": (b'{"plugin": "file", "dry_run": "maybe"}', "dry_run: Input should be"),
        "bad-plugin": (b'{"plugin": "nope"}', "unknown plugin 'nope'; known plugins: file, "),
        "too-big": (b'{"plugin": "' + b"x" * 5_000_000 + b'"}', "MAX_REQUEST_BYTES is 1,048,576"),
    }
    for key, (payload, _) in bad.items():
        await produce(test_settings, COLLECT_REQUESTS, payload, key=key.encode())
    good = make_request(request_id="after-1")
    await produce(test_settings, COLLECT_REQUESTS, good.dumps(), key=b"after-1")
    finals = await _results(test_settings, len(bad) + 1)
    for key, (_, message) in bad.items():
        assert finals[key].state is RequestState.FAILURE, key
        assert message in (finals[key].error or ""), (key, finals[key].error)
    assert finals["too-big"].error_type == "RequestTooLargeError"
    assert finals["after-1"].state is RequestState.SUCCESS
    assert collector.process.poll() is None


async def test_priority_requests_publish_items(collector: Worker, test_settings: Settings) -> None:
    request = make_request(request_id="prio-1", dry_run=False, priority=9)
    await produce(test_settings, COLLECT_REQUESTS_PRIORITY, request.dumps(), key=b"prio-1")
    status = (await _results(test_settings, 1))["prio-1"]
    assert status.state is RequestState.SUCCESS
    items = await read_until(test_settings, ITEMS_RAW, lambda v: len(v) >= 5)
    parsed = [RawItem.parse(value) for value in items]
    assert len(parsed) == 5
    assert {item.request_id for item in parsed} == {"prio-1"}
    all_states = [
        RequestStatus.parse(v).state
        for v in await read_until(test_settings, COLLECT_RESULTS, lambda v: len(v) >= 3)
    ]
    assert all_states == [RequestState.RECEIVED, RequestState.STARTED, RequestState.SUCCESS]


async def test_faust_send_is_an_accepted_client(collector: Worker, test_settings: Settings) -> None:
    trigger = {
        "plugin": "file",
        "request_id": "faust-send-1",
        "dry_run": True,
        "options": {"path": "tests/fixtures/items.jsonl"},
    }
    target = COLLECT_REQUESTS.full_name(test_settings)
    env = {**os.environ, **settings_env(test_settings), "COLLECTOR_WEB_PORT": str(free_port())}
    process = await asyncio.create_subprocess_exec(
        "faust",
        "-A",
        "services.collector",
        "send",
        target,
        json.dumps(trigger),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()[-2000:]
    status = (await _results(test_settings, 1))["faust-send-1"]
    assert status.state is RequestState.SUCCESS
