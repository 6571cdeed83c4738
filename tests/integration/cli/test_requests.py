"""trendctl against a real collector: collect, status, requests, cancel, inspect, dlq, purge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streams.config import Settings
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS
from streams.operations.offsets import KafkaOffsets
from streams.reliability.deadletter import DeadLetters
from streams.requests.state import RequestStates, redis_client
from tests.integration.cli.conftest import Trendctl
from tests.support.kafka import produce
from tests.support.workers import Worker, apoll, without_schedules

ROOT = Path(__file__).resolve().parents[3]
ITEMS = "path=tests/fixtures/items.jsonl"


@pytest.fixture
def collector(test_settings: Settings, start_workers: Callable[..., list[Worker]]) -> Worker:
    """One collector worker reading files under the project root, its schedules off."""
    settings = without_schedules(test_settings).model_copy(update={"file_plugin_dir": ROOT})
    return start_workers("collector", settings)[0]


async def test_collect_wait_follows_the_request_to_success_or_failure(
    collector: Worker, trendctl: Trendctl
) -> None:
    done = await trendctl("collect", "file", "-o", ITEMS, "--dry-run", "--wait", "--timeout", "60")
    assert done.code == 0, done.err
    assert "SUCCESS" in done.out and "RECEIVED" in done.out and "STARTED" in done.out
    assert '"items_collected": 5' in done.out

    failed = await trendctl("collect", "file", "-o", "path=no/such.jsonl", "--wait", "--json")
    assert failed.code == 1
    assert failed.json()["state"] == "FAILURE"

    legacy = await trendctl("trigger", "file", "--option", ITEMS, "--dry-run")
    assert legacy.code == 0, legacy.err
    assert legacy.json()["result"]["items_collected"] == 5


async def test_collect_status_requests_and_inspect(
    collector: Worker, trendctl: Trendctl, test_settings: Settings
) -> None:
    sent = await trendctl("collect", "file", "-o", ITEMS, "-o", "limit=2")
    assert sent.code == 0, sent.err
    request_id = sent.out.strip()

    async def succeeded() -> bool:
        shown = await trendctl("status", request_id, "--json")
        return shown.code == 0 and shown.json()["state"] == "SUCCESS"

    assert await apoll(succeeded, 60, interval=0.5), "the request never reached SUCCESS"
    shown = await trendctl("status", request_id)
    assert shown.code == 0 and "timeline" in shown.out and "SUCCESS" in shown.out
    timeline = (await trendctl("status", request_id, "--json")).json()["timeline"]
    assert [moment["state"] for moment in timeline] == ["RECEIVED", "STARTED", "SUCCESS"]

    listed = await trendctl("requests", "--state", "success", "--plugin", "file", "--json")
    assert request_id in [info["request_id"] for info in listed.json()]
    assert (await trendctl("requests", "--state", "FAILURE", "--json")).json() == []
    active = await trendctl("inspect", "active", "--json")
    assert active.code == 0 and request_id not in active.out

    web = {"COLLECTOR_WEB_PORT": str(collector.port)}
    workers = (await trendctl("inspect", "workers", "--json", env=web)).json()
    by_service = {w["service"]: w for w in workers}
    assert by_service["collector"]["reachable"] and by_service["collector"]["ready"]
    assert by_service["collector"]["assignment"]
    stats = (await trendctl("inspect", "stats", "--json", env=web)).json()
    figures = {s["service"]: s for s in stats}["collector"]
    assert figures["figures"]["messages_consumed"] >= 1
    assert figures["requests"]["SUCCESS"] >= 1

    missing = await trendctl("status", "no-such-request")
    assert missing.code == 1
    assert "no status known" in missing.error_line()


async def test_cancel_revokes(
    collector: Worker, trendctl: Trendctl, test_settings: Settings
) -> None:
    cancelled = await trendctl("cancel", "to-be-revoked")
    assert cancelled.code == 0, cancelled.err
    assert "revoke sent for to-be-revoked" in cancelled.out
    states = RequestStates(redis_client(test_settings), test_settings)
    try:
        assert await apoll(lambda: states.is_revoked("to-be-revoked"), 30)
    finally:
        await states.redis.aclose()


async def test_dead_letters_list_show_redrive_purge(
    collector: Worker, trendctl: Trendctl, test_settings: Settings
) -> None:
    await produce(test_settings, COLLECT_REQUESTS, b'{"this is": not json', key=b"poison")
    letters = DeadLetters(test_settings)
    assert await apoll(letters.entries, 60), "the poison message was never dead-lettered"

    listed = await trendctl("dlq", "list", "--topic", "collect.requests", "--json")
    assert listed.code == 0, listed.err
    [letter] = listed.json()
    assert letter["key"] == "poison" and letter["error_class"] == "RecordValidationError"
    table = await trendctl("dlq", "list", "--since", "1h")
    assert letter["id"] in table.out
    assert (await trendctl("dlq", "list", "--error", "OtherError", "--json")).json() == []

    shown = await trendctl("dlq", "show", letter["id"])
    assert shown.code == 0 and shown.json()["original"]["topic"].endswith("collect.requests")
    unknown = await trendctl("dlq", "show", "collect.requests.dlq:0:999")
    assert unknown.code == 1 and "no active dead letter" in unknown.error_line()

    for filters, message in [
        (("--until", "1e400"), "until: expected epoch seconds"),
        (("--since", "4000000000"), "since: 4000000000.0 is in the future"),
        (("--id", "not-an-id"), "ids: 'not-an-id' is not a dead-letter id"),
        (("--topic", "nope"), "topic: 'nope' is not a catalog topic"),
    ]:
        for command in (("dlq", "redrive"), ("dlq", "purge", "--yes"), ("dlq", "list")):
            bad = await trendctl(*command, *filters)
            assert bad.code == 2 and message in bad.error_line(), (command, filters, bad.err)
    assert letter["id"] in [e.id for e in await letters.entries()], "a refused filter acted"

    redriven = await trendctl("dlq", "redrive", "--id", letter["id"])
    assert redriven.code == 0 and "redriven: 1" in redriven.out

    async def dead_again() -> list[object]:
        return [e for e in await letters.entries() if e.id != letter["id"]]

    assert await apoll(dead_again, 60), "the redriven poison was not dead-lettered again"
    refused = await trendctl("dlq", "purge", stdin=b"n\n")
    assert refused.code == 1 and "nothing dropped" in refused.err
    purged = await trendctl("dlq", "purge", "--yes")
    assert purged.code == 0 and "purged: 1" in purged.out
    assert await letters.entries() == []


async def test_purge_empties_a_catalog_topic_after_confirmation(
    collector: Worker, trendctl: Trendctl, test_settings: Settings
) -> None:
    assert (await trendctl("trigger", "file", "-o", ITEMS, "--dry-run")).code == 0
    name = COLLECT_RESULTS.full_name(test_settings)
    refused = await trendctl("purge", "collect.results", stdin=b"n\n")
    assert refused.code == 1 and "nothing deleted" in refused.err
    assert await _records(test_settings, name) > 0

    purged = await trendctl("purge", "collect.results", stdin=b"y\n")
    assert purged.code == 0, purged.err
    assert f"purged {name}:" in purged.out
    assert await _records(test_settings, name) == 0
    again = await trendctl("purge", "collect.results", "--yes")
    assert again.code == 0 and "0 messages deleted" in again.out

    unknown = await trendctl("purge", "collect.result", "--yes")
    assert unknown.code == 2
    assert "'collect.result' is not a catalog topic" in unknown.error_line()


async def _records(settings: Settings, topic: str) -> int:
    """Messages left in a topic (end minus start offsets)."""
    offsets = KafkaOffsets(settings)
    try:
        partitions = await offsets.partitions(topic)
        starts = await offsets.starts(partitions)
        ends = await offsets.ends(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await offsets.close()
