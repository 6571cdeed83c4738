"""`then_process` counts each item once per request, and never closes a request early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.collector.collection import Seen
from services.collector.plugins import PluginRegistry
from services.collector.plugins.file import FilePlugin
from services.collector.processing import Pending, ProcessingTracker
from services.collector.runner import CollectorDeps, RequestRunner
from services.collector.seen import SeenItems
from streams.config import Settings
from streams.messages.records import ProcessingReport, RawItem, RequestState, RequestStatus
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS, PROCESSING_REPORTS
from streams.reliability.limits import RevokedError
from streams.requests.client import RequestHandle
from streams.requests.jobs import NO_RETRIES
from streams.requests.state import redis_client
from tests.factories import make_request
from tests.support import fakes
from tests.support.kafka import produce, read_all, read_until, wait_final
from tests.support.workers import Worker

ROOT = Path(__file__).resolve().parents[3]
ITEMS = [
    RawItem.parse(line).key
    for line in (ROOT / "tests/fixtures/items.jsonl").read_bytes().splitlines()
]
KEYS = [f"hackernews:{n}" for n in range(1, 6)]


@pytest.fixture
async def tracker(test_settings: Settings) -> AsyncIterator[ProcessingTracker]:
    """The tracker of the test's namespace on the real Redis."""
    redis = redis_client(test_settings)
    yield ProcessingTracker(redis, test_settings)
    async for key in redis.scan_iter(f"{test_settings.namespace}*"):
        await redis.delete(key)
    await redis.aclose()


def _report(
    request_id: str, keys: list[str], new: list[str] | None = None, **fields: object
) -> ProcessingReport:
    new = keys if new is None else new
    return ProcessingReport(
        request_id=request_id,
        items_handled=len(keys),
        items_new=len(new),
        keys=keys,
        new_keys=new,
        **fields,
    )


async def test_each_item_counts_once_however_often_it_is_reported(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("r")
    await tracker.published("r", *KEYS)
    assert await tracker.expect("r", 5, {"result": {}}) is None
    first = _report("r", KEYS[:2])
    for report in (first, first, _report("r", KEYS[:2], [], stage="clustered")):
        assert await tracker.reported(report) is None  # redelivered, then a second stage
    assert await tracker.reported(_report("r", ["reddit:elsewhere"])) is None  # not this request's
    done = await tracker.reported(_report("r", KEYS[2:], KEYS[2:3]))
    assert done == Pending("r", {"result": {}}, {"items_processed": 5, "items_new": 3})


async def test_nothing_closes_a_request_before_its_run_said_how_many_items(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("early")
    await tracker.published("early", *KEYS)
    assert await tracker.reported(_report("early", KEYS)) is None  # all in, but not armed yet
    pending = await tracker.expect("early", 5, {"n": 1})
    assert pending is not None and pending.processing["items_processed"] == 5


async def test_a_rerun_is_not_completed_by_the_items_of_the_run_before(
    tracker: ProcessingTracker,
) -> None:
    # Run 1 published three items and was waiting for them when the collector died.
    await tracker.begin("again")
    await tracker.published("again", *KEYS[:3])
    assert await tracker.expect("again", 3, {"run": 1}) is None
    # Run 2 starts: the request is held open while it publishes, whatever is reported.
    await tracker.begin("again")
    assert await tracker.reported(_report("again", KEYS[:3])) is None
    await tracker.published("again", KEYS[3])  # the three others were seen: not published again
    assert await tracker.expect("again", 1, {"run": 2}) is None  # still waits for KEYS[3]
    assert await tracker.reported(_report("again", KEYS[:3])) is None  # the earlier run's, again
    done = await tracker.reported(_report("again", [KEYS[3]]))
    assert done == Pending("again", {"run": 2}, {"items_processed": 4, "items_new": 4})


async def test_a_rerun_that_publishes_nothing_waits_for_the_items_published_before(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("seen")
    await tracker.published("seen", *KEYS)
    await tracker.begin("seen")  # re-run after a crash: every item seen, none published
    assert await tracker.expect("seen", 0, {}) is None
    assert await tracker.reported(_report("seen", KEYS[:4])) is None
    done = await tracker.reported(_report("seen", KEYS[4:]))
    assert done is not None and done.processing == {"items_processed": 5, "items_new": 5}


async def test_reports_without_keys_are_counted_as_before(tracker: ProcessingTracker) -> None:
    await tracker.begin("old")
    assert await tracker.expect("old", 3, {}) is None
    legacy = ProcessingReport(request_id="old", items_handled=2, items_new=1)
    assert await tracker.reported(legacy) is None
    done = await tracker.reported(ProcessingReport(request_id="old", items_handled=1, items_new=1))
    assert done is not None and done.processing == {"items_processed": 3, "items_new": 2}


async def test_a_closed_request_is_answered_again_until_its_success_is_confirmed(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("c")
    await tracker.published("c", *KEYS[:2])
    await tracker.expect("c", 2, {"run": 1})
    closed = await tracker.reported(_report("c", KEYS[:2]))
    assert closed is not None
    assert await tracker.reported(_report("c", KEYS[:1])) == closed  # SUCCESS not confirmed yet
    await tracker.finished("c")
    assert await tracker.reported(_report("c", KEYS[:2], stage="clustered")) is None
    rerun = await tracker.expect("c", 0, {"run": 2})  # a re-run after the close: same figures
    assert rerun == Pending("c", {"run": 2}, closed.processing)


async def test_of_concurrent_reports_and_expect_exactly_one_closes(
    tracker: ProcessingTracker,
) -> None:
    keys = [f"rss:{n}" for n in range(40)]
    await tracker.begin("race")
    await tracker.published("race", *keys)
    calls = [tracker.reported(_report("race", [key])) for key in keys]
    outcomes = await asyncio.gather(tracker.expect("race", 40, {}), *calls)
    closing = [outcome for outcome in outcomes if outcome is not None]
    assert len(closing) == 1 and closing[0].processing["items_processed"] == 40


async def test_a_revocation_ends_a_waiting_request_once_and_later_reports_change_nothing(
    tracker: ProcessingTracker,
) -> None:
    assert await tracker.revoke("never-tracked") is None
    assert not await tracker.redis.exists(tracker.prefix + "never-tracked")
    await tracker.begin("w")
    await tracker.published("w", *KEYS)
    assert await tracker.expect("w", 5, {"run": 1}) is None
    assert await tracker.reported(_report("w", KEYS[:2], KEYS[:1])) is None
    revoked = Pending("w", {"run": 1}, {"items_processed": 2, "items_new": 1})
    assert await tracker.revoke("w") == revoked
    assert await tracker.revoke("w") == revoked  # redelivered before its REVOKED was confirmed
    assert await tracker.reported(_report("w", KEYS)) is None
    await tracker.finished("w")
    assert await tracker.revoke("w") is None
    assert await tracker.reported(_report("w", KEYS, stage="clustered")) is None


async def test_a_revocation_while_the_run_publishes_ends_it_at_its_expect(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("p")
    await tracker.published("p", *KEYS[:2])
    assert await tracker.revoke("p") is None  # still publishing: its run ends it
    await tracker.published("p", *KEYS[2:])
    with pytest.raises(RevokedError):
        await tracker.expect("p", 5, {})
    assert await tracker.reported(_report("p", KEYS)) is None


async def test_a_request_closed_by_its_reports_is_not_revoked_by_the_tracker(
    tracker: ProcessingTracker,
) -> None:
    await tracker.begin("c")
    await tracker.published("c", *KEYS)
    await tracker.expect("c", 5, {})
    closed = await tracker.reported(_report("c", KEYS))
    assert closed is not None
    assert await tracker.revoke("c") is None  # its end is being published (SUCCESS or REVOKED)
    assert await tracker.reported(_report("c", KEYS)) == closed


# --- a collector killed between sending its items and the broker's acknowledgement ---------------


class Broker:
    """The items topic: `hold` keeps every acknowledgement back (the worker dies first)."""

    def __init__(self, hold: bool) -> None:
        self.hold = hold
        self.items: list[RawItem] = []
        self.all_sent = asyncio.Event()

    async def __call__(self, item: RawItem) -> Awaitable[object]:
        self.items.append(item)
        if len(self.items) == len(ITEMS):
            self.all_sent.set()
        return asyncio.get_running_loop().create_future() if self.hold else fakes.acknowledged()


def _collector(
    settings: Settings, tracker: ProcessingTracker, seen: Seen, broker: Broker
) -> RequestRunner:
    return RequestRunner(
        CollectorDeps(
            PluginRegistry([FilePlugin()]),
            settings.model_copy(update={"file_plugin_dir": ROOT}),
            fakes.Statuses(),
            broker,
            fakes.Requests(),
            redis=fakes.unreachable_redis(),
            revocations=fakes.Revocations(),
            seen=seen,
            groups=fakes.Groups(),
            runs=fakes.Runs(),
            processing=tracker,
            policy=NO_RETRIES,
        )
    )


async def test_a_run_killed_before_the_broker_acknowledged_leaves_nothing_to_wait_for(
    tracker: ProcessingTracker, test_settings: Settings
) -> None:
    request = make_request(dry_run=False, then_process=True)
    seen, lost = fakes.Seen(), Broker(hold=True)
    killed = asyncio.create_task(_collector(test_settings, tracker, seen, lost).run(request))
    await lost.all_sent.wait()
    killed.cancel()  # kill -9: nothing after the sends, the broker acknowledged none of them
    with pytest.raises(asyncio.CancelledError):
        await killed
    assert seen.keys == set()

    rerun = await _collector(test_settings, tracker, seen, Broker(hold=False)).run(request)
    assert rerun.state is RequestState.STARTED and rerun.result is not None
    assert (rerun.result["items_published"], rerun.result["items_already_seen"]) == (5, 0)
    done = await tracker.reported(_report(request.request_id, ITEMS))
    assert done is not None and done.processing == {"items_processed": 5, "items_new": 5}


class KilledAtMark(SeenItems):
    """The real seen marks (Redis), with the worker killed as it marks its `at`-th item."""

    def __init__(self, redis: Redis, settings: Settings, at: int) -> None:
        super().__init__(redis, settings)
        self.at = at
        self.marks = 0
        self.killed = asyncio.Event()

    async def mark(self, item: RawItem) -> None:
        self.marks += 1
        if self.marks == self.at:
            self.killed.set()
            await asyncio.get_running_loop().create_future()  # never returns: killed here
        await super().mark(item)


@pytest.mark.parametrize("at", [1, 3, 5])
async def test_a_run_killed_while_marking_items_seen_still_counts_every_item(
    tracker: ProcessingTracker, test_settings: Settings, at: int
) -> None:
    request = make_request(dry_run=False, then_process=True)
    seen = KilledAtMark(tracker.redis, test_settings, at)
    run = _collector(test_settings, tracker, seen, Broker(hold=False)).run(request)
    killed = asyncio.create_task(run)
    await seen.killed.wait()
    killed.cancel()  # kill -9 with `at - 1` items marked seen, the broker having all five
    with pytest.raises(asyncio.CancelledError):
        await killed

    rerun = _collector(
        test_settings, tracker, SeenItems(tracker.redis, test_settings), Broker(hold=False)
    )
    status = await rerun.run(request)
    assert status.state is RequestState.STARTED and status.result is not None
    assert status.result["items_published"] + status.result["items_already_seen"] == 5
    done = await tracker.reported(_report(request.request_id, ITEMS))
    assert done is not None and done.processing == {"items_processed": 5, "items_new": 5}


# --- through a real collector -------------------------------------------------------------------


def _waiting(values: list[bytes], request_id: str) -> int:
    statuses = [RequestStatus.parse(value) for value in values]
    return sum(
        1
        for s in statuses
        if s.request_id == request_id
        and s.state is RequestState.STARTED
        and (s.result or {}).get("processing") == "waiting for the processor"
    )


async def test_repeated_reports_and_a_rerun_count_each_item_once(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    start_workers("collector", settings)
    request = make_request(dry_run=False, then_process=True)
    rid = request.request_id
    await produce(settings, COLLECT_REQUESTS, request.dumps(), rid.encode())
    await read_until(settings, COLLECT_RESULTS, lambda v: _waiting(v, rid) >= 1)

    first = _report(rid, ITEMS[:2]).dumps()
    for value in (first, first, _report(rid, ITEMS[:2], [], stage="clustered").dumps()):
        await produce(settings, PROCESSING_REPORTS, value, rid.encode())
    await produce(settings, COLLECT_REQUESTS, request.dumps(), rid.encode())  # a re-run
    await read_until(settings, COLLECT_RESULTS, lambda v: _waiting(v, rid) >= 2)
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    assert not [s for s in statuses if s.request_id == rid and s.state.is_final]
    rerun = [s for s in statuses if s.request_id == rid and s.result][-1].result or {}
    assert (rerun["items_published"], rerun["items_already_seen"]) == (0, 5)

    await produce(settings, PROCESSING_REPORTS, _report(rid, ITEMS[2:]).dumps(), rid.encode())
    final = (await wait_final(settings, {rid}))[rid]
    assert final.state is RequestState.SUCCESS
    assert final.result is not None
    assert final.result["processing"] == {"items_processed": 5, "items_new": 5}


async def test_a_request_cancelled_while_it_waits_for_the_processor_ends_revoked(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT, "seen_items_ttl_s": 0})
    start_workers("collector", settings)
    cancelled, later = (make_request(dry_run=False, then_process=True) for _ in range(2))
    rid = cancelled.request_id
    await produce(settings, COLLECT_REQUESTS, cancelled.dumps(), rid.encode())
    await read_until(settings, COLLECT_RESULTS, lambda v: _waiting(v, rid) >= 1)
    async with RequestHandle(rid, settings) as handle:
        await handle.cancel(issued_by="test")
    final = (await wait_final(settings, {rid}, timeout=30))[rid]
    assert final.state is RequestState.REVOKED, final
    assert "waiting for the processor" in (final.error or "")

    # The processor reports every item afterwards: the request stays REVOKED. `later`'s report
    # follows them on their partition, so once `later` succeeded, they were all read.
    lid = later.request_id
    await produce(settings, COLLECT_REQUESTS, later.dumps(), lid.encode())
    await read_until(settings, COLLECT_RESULTS, lambda v: _waiting(v, lid) >= 1)
    for report in (
        _report(rid, ITEMS),
        _report(rid, ITEMS, stage="clustered"),
        _report(lid, ITEMS),
    ):
        await produce(settings, PROCESSING_REPORTS, report.dumps(), rid.encode())
    assert (await wait_final(settings, {lid}))[lid].state is RequestState.SUCCESS
    statuses = [RequestStatus.parse(v) for v in await read_all(settings, COLLECT_RESULTS)]
    assert [s.state for s in statuses if s.request_id == rid][-1] is RequestState.REVOKED
    assert not [s for s in statuses if s.request_id == rid and s.state is RequestState.SUCCESS]
    async with RequestHandle(rid, settings) as handle:
        assert await handle.state() is RequestState.REVOKED
