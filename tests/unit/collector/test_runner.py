"""The request runner: the states it reports for good, bad, failing and oversized requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from services.collector.collection import ItemSink
from services.collector.plugins import Plugin, PluginContext, PluginRegistry
from services.collector.plugins.file import FilePlugin
from services.collector.processing import Pending
from services.collector.runner import CollectorDeps, RequestRunner
from streams.config import load_settings
from streams.messages.records import CollectRequest, Lane, RawItem, RequestState, RequestStatus
from streams.reliability.limits import RevokedError, TimeLimits
from streams.reliability.retry import RetryPolicy
from streams.requests.jobs import NO_RETRIES
from tests.factories import make_item, make_request
from tests.support import fakes

ROOT = Path(__file__).resolve().parents[3]


class Sinks:
    """In-memory sinks standing in for the result, item and request topics, and the runner's
    in-memory state (revocations, seen items, groups, plugin runs, `then_process`)."""

    def __init__(self) -> None:
        self.results = fakes.Statuses()
        self.statuses: list[RequestStatus] = self.results.seen
        self.items: list[RawItem] = []
        self.topics = fakes.Requests()
        self.requests: list[tuple[CollectRequest, Lane]] = self.topics.sent
        self.revocations = fakes.Revocations()
        self.seen = fakes.Seen()
        self.groups = fakes.Groups()
        self.runs = fakes.Runs()
        self.processing = fakes.Processing()

    async def item(self, item: RawItem) -> Awaitable[object]:
        self.items.append(item)
        return fakes.acknowledged()


class Broken(Plugin):
    """A plugin that fails after one item."""

    name = "broken"
    uses_http = False

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        yield make_item()
        raise ZeroDivisionError("boom")


class Dated(Plugin):
    """Three items published on the 1st, 2nd and 3rd of January 2026."""

    name = "dated"
    uses_http = False
    frequency: ClassVar = "high"

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        for day in (1, 2, 3):
            yield make_item(source_id=str(day), published_at=f"2026-01-0{day}T00:00:00Z")


def _runner(
    sinks: Sinks,
    *plugins: Plugin,
    policy: RetryPolicy = NO_RETRIES,
    items: ItemSink | None = None,
    **settings: Any,
) -> RequestRunner:
    registry = PluginRegistry(list(plugins) or [FilePlugin()])
    return RequestRunner(
        CollectorDeps(
            registry,
            load_settings(file_plugin_dir=ROOT, **settings),
            sinks.results,
            items or sinks.item,
            sinks.topics,
            redis=fakes.unreachable_redis(),
            revocations=sinks.revocations,
            seen=sinks.seen,
            groups=sinks.groups,
            runs=sinks.runs,
            processing=sinks.processing,
            policy=policy,
        )
    )


async def test_a_collection_reports_received_started_success() -> None:
    sinks = Sinks()
    request = make_request(dry_run=False)
    final = await _runner(sinks).run(request)
    assert [s.state for s in sinks.statuses] == [
        RequestState.RECEIVED,
        RequestState.STARTED,
        RequestState.SUCCESS,
    ]
    assert {s.request_id for s in sinks.statuses} == {request.request_id}
    assert final.result is not None
    assert final.result["items_collected"] == final.result["items_published"] == 5
    assert final.result["duration_s"] >= 0
    assert len(sinks.items) == 5
    assert set(final.timings) == {"received", "started", "finished"}


async def test_a_dry_run_publishes_no_item_and_returns_a_sample() -> None:
    sinks = Sinks()
    request = make_request(
        dry_run=True, options={"path": "tests/fixtures/items.jsonl", "sample_size": 2}
    )
    final = await _runner(sinks).run(request)
    assert final.state is RequestState.SUCCESS
    assert sinks.items == []
    assert final.result is not None
    assert (final.result["items_collected"], len(final.result["sample"])) == (5, 2)


async def test_limit_and_since_options() -> None:
    sinks = Sinks()
    request = make_request(
        plugin="dated", dry_run=False, options={"since": "2026-01-02T00:00:00Z", "limit": 1}
    )
    final = await _runner(sinks, Dated()).run(request)
    assert final.result is not None
    assert final.result["items_older_than_since"] == 1
    assert [item.source_id for item in sinks.items] == ["2"]


async def test_bad_options_fail_the_run_clearly() -> None:
    sinks = Sinks()
    final = await _runner(sinks, Dated()).run(make_request(plugin="dated", options={"since": "x"}))
    assert final.state is RequestState.FAILURE
    assert final.error == (
        "invalid CollectRequest: options.since: must be an ISO 8601 time with a timezone, got 'x'"
    )
    assert [s.state for s in sinks.statuses] == [RequestState.RECEIVED, RequestState.FAILURE]


BAD_INPUT = {
    "path outside FILE_PLUGIN_DIR": (
        {"path": "../../etc/passwd"},
        "PluginInputError",
        "file: '../../etc/passwd' is outside FILE_PLUGIN_DIR",
    ),
    "limit=-1": (
        {"path": "tests/fixtures/items.jsonl", "limit": -1},
        "RecordValidationError",
        "options.limit: must be a whole number >= 0, got -1",
    ),
    "missing path": ({}, "PluginInputError", "file: option 'path' (a JSONL file) is required"),
    "no such file": (
        {"path": "tests/fixtures/no-such-file.jsonl"},
        "PluginInputError",
        "file: no file at ",
    ),
    "unknown option": (
        {"path": "tests/fixtures/items.jsonl", "pth": "x"},
        "PluginInputError",
        "file: unknown option(s) pth; options: limit, path, sample_size, since",
    ),
    "plugins on a plugin": (
        {"path": "tests/fixtures/items.jsonl", "plugins": {}},
        "PluginInputError",
        "file: option 'plugins' is for groups only",
    ),
}


async def test_bad_input_fails_at_once_even_with_retries_left() -> None:
    for name, (options, error_type, message) in BAD_INPUT.items():
        sinks = Sinks()
        runner = _runner(sinks, policy=RetryPolicy(max_retries=3, backoff_s=0.01))
        final = await runner.run(make_request(options=options, dry_run=False))
        assert final.state is RequestState.FAILURE, name
        assert (final.error_type, final.retries) == (error_type, 1), name
        assert final.error is not None and message in final.error, (name, final.error)
        assert sinks.items == [], name


async def test_a_group_refuses_options_not_every_plugin_reads() -> None:
    sinks = Sinks()
    runner = _runner(sinks, Dated(), Broken())
    request = make_request(plugin="all", options={"subreddits": ["python"]})
    final = await runner.run(request)
    assert (final.state, final.error_type) == (RequestState.FAILURE, "PluginInputError")
    assert final.error is not None and "option(s) subreddits are not read by every" in final.error
    stranger = await runner.run(make_request(plugin="all", options={"plugins": {"rss": {}}}))
    assert stranger.error == (
        "all: options.plugins names rss, not among the group's plugins (broken, dated)"
    )
    long_id = await runner.run(make_request(plugin="all", request_id="x" * 200, options={}))
    assert long_id.error is not None and long_id.error.startswith("request_id: too long")
    assert sinks.requests == []


async def test_an_unknown_plugin_fails_with_the_known_ones_listed() -> None:
    sinks = Sinks()
    final = await _runner(sinks).run(make_request(plugin="nope"))
    assert final.state is RequestState.FAILURE
    assert final.error == "unknown plugin 'nope'; known plugins: file; groups: all, high_frequency"
    assert final.error_type == "UnknownPluginError"


async def test_malformed_and_oversized_payloads_fail_under_the_fallback_id() -> None:
    sinks = Sinks()
    runner = _runner(sinks, max_request_bytes=1024)
    bad = await runner.handle(b"{oops", "invalid-collect.requests-0-7")
    big = await runner.handle(b"x" * 5000, "big-1")
    assert (bad.request_id, bad.state, bad.error_type) == (
        "invalid-collect.requests-0-7",
        RequestState.FAILURE,
        "RecordValidationError",
    )
    assert bad.error is not None and "not valid JSON" in bad.error
    assert (big.state, big.error) == (
        RequestState.FAILURE,
        "request payload is 5,000 bytes; MAX_REQUEST_BYTES is 1,024",
    )
    assert len(sinks.statuses) == 2


async def test_a_crashing_plugin_becomes_a_failure() -> None:
    sinks = Sinks()
    final = await _runner(sinks, Broken()).run(make_request(plugin="broken", dry_run=False))
    assert final.state is RequestState.FAILURE
    assert (final.error_type, final.error) == ("ZeroDivisionError", "boom")


async def test_a_group_fans_out_to_its_enabled_members_or_fails_clearly() -> None:
    sinks = Sinks()
    group = make_request(plugin="high_frequency", options={})
    started = await _runner(sinks, Dated(), Broken()).run(group, lane="priority")
    assert started.state is RequestState.STARTED
    assert started.result == {"children": [f"{group.request_id}.dated"], "skipped_disabled": []}
    assert [(child.plugin, lane) for child, lane in sinks.requests] == [("dated", "priority")]
    assert [s.state for s in sinks.statuses] == [RequestState.RECEIVED, RequestState.STARTED]
    empty = await _runner(sinks, Broken()).run(make_request(plugin="high_frequency", options={}))
    assert empty.error == "group 'high_frequency' has no enabled plugin"


class Stubborn(Plugin):
    """A plugin that ignores its first cancellation (the soft limit) and keeps waiting."""

    name = "stubborn"
    uses_http = False

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)  # ignores the first cancellation (the soft limit)
        yield make_item()


SLOWER = 60.0
"""A limit that must not be the one acting: elapsed-time bounds sit far below it, so a loaded
machine cannot make them fail, yet they tell which limit stopped the work."""


class Slow(Plugin):
    """A plugin that waits (cancellable) before its only item."""

    name = "slow"
    uses_http = False

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        await asyncio.sleep(3600)
        yield make_item()


async def test_the_soft_limit_cancels_a_slow_collection_and_fails_it() -> None:
    sinks = Sinks()
    runner = _runner(sinks, Slow(), collect_soft_time_limit_s=0.2, collect_hard_time_limit_s=SLOWER)
    started = time.monotonic()
    final = await runner.run(make_request(plugin="slow", dry_run=False))
    assert time.monotonic() - started < SLOWER / 2  # cancelled at the soft limit, not the hard
    assert (final.state, final.error_type) == (RequestState.FAILURE, "SoftTimeLimitExceeded")


async def test_the_hard_limit_gives_up_on_a_collection_that_ignores_cancellation() -> None:
    sinks = Sinks()
    runner = _runner(
        sinks, Stubborn(), collect_soft_time_limit_s=0.1, collect_hard_time_limit_s=0.4
    )
    started = time.monotonic()
    final = await runner.run(make_request(plugin="stubborn", dry_run=False))
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < SLOWER / 2  # abandoned at the hard limit, not waited for (3600 s)
    assert (final.state, final.error_type) == (RequestState.FAILURE, "HardTimeLimitExceeded")


async def test_per_plugin_limits_come_before_the_defaults() -> None:
    runner = _runner(
        Sinks(), plugin_soft_time_limits={"slow": 5}, plugin_hard_time_limits={"slow": 2}
    )
    assert runner.limits("slow") == TimeLimits(5, 5)
    assert runner.limits("file") == TimeLimits(300, 600)


async def test_a_failure_is_a_retry_while_the_policy_allows() -> None:
    sinks = Sinks()
    runner = _runner(sinks, Broken(), policy=RetryPolicy(max_retries=1, backoff_s=10, jitter=False))
    first = await runner.run(make_request(plugin="broken", dry_run=False))
    assert (first.state, first.retries) == (RequestState.RETRY, 1)
    assert first.eta is not None and first.updated_at is not None
    assert round((first.eta - first.updated_at).total_seconds()) == 10
    assert first.traceback and "ZeroDivisionError" in first.traceback
    second = await runner.run(make_request(plugin="broken", dry_run=False), attempt=1)
    assert (second.state, second.retries) == (RequestState.FAILURE, 2)


class HeldAcknowledgements:
    """The items topic, whose broker acknowledges nothing until the test says so."""

    def __init__(self, expected: int) -> None:
        self.items: list[RawItem] = []
        self.acks: list[asyncio.Future[object]] = []
        self.expected = expected
        self.all_sent = asyncio.Event()

    async def __call__(self, item: RawItem) -> Awaitable[object]:
        self.items.append(item)
        self.acks.append(asyncio.get_running_loop().create_future())
        if len(self.items) == self.expected:
            self.all_sent.set()
        return self.acks[-1]


async def test_then_process_records_an_item_only_once_the_broker_acknowledged_it() -> None:
    sinks, held = Sinks(), HeldAcknowledgements(5)
    request = make_request(dry_run=False, then_process=True)
    run = asyncio.create_task(_runner(sinks, items=held).run(request))
    await held.all_sent.wait()
    assert sinks.processing.calls == [("begin", request.request_id)]  # sent, not acknowledged
    assert sinks.seen.keys == set()
    for ack in held.acks:
        ack.set_result(None)
    status = await run
    keys = [item.key for item in held.items]
    assert sinks.processing.calls == [
        ("begin", request.request_id),
        ("published", request.request_id, *keys),
        ("expect", request.request_id, 5),
    ]
    assert sinks.seen.keys == set(keys)
    assert status.state is RequestState.STARTED and status.result is not None
    assert status.result["processing"] == "waiting for the processor"


async def test_items_the_broker_refused_are_neither_recorded_nor_seen() -> None:
    sinks, held = Sinks(), HeldAcknowledgements(5)
    request = make_request(dry_run=False, then_process=True)
    run = asyncio.create_task(_runner(sinks, items=held).run(request))
    await held.all_sent.wait()
    for ack in held.acks:
        ack.set_exception(RuntimeError("the broker refused the batch"))
    status = await run
    assert (status.state, status.error) == (RequestState.FAILURE, "the broker refused the batch")
    assert sinks.processing.calls == [("begin", request.request_id)]
    assert sinks.seen.keys == set()


async def test_a_then_process_request_succeeds_once_its_items_are_processed() -> None:
    sinks = Sinks()
    runner = _runner(sinks)
    request = make_request(dry_run=False, then_process=True)
    waiting = await runner.run(request)
    assert waiting.result is not None and sinks.runs.recorded == []
    context = {
        "result": {k: v for k, v in waiting.result.items() if k != "processing"},
        "timings": waiting.timings,
        "plugin": "file",
        "parent_id": None,
    }
    figures = {"items_processed": 5, "items_new": 5}
    final = await runner.complete(Pending(request.request_id, context, figures))
    assert (final.state, final.result and final.result["processing"]) == (
        RequestState.SUCCESS,
        figures,
    )
    assert sinks.processing.calls[-1] == ("finished", request.request_id)
    assert [run.state for run in sinks.runs.recorded] == [RequestState.SUCCESS]


def _waited(request: CollectRequest, waiting: RequestStatus) -> dict[str, Any]:
    """The context the tracker keeps for a request waiting for the processor."""
    assert waiting.result is not None
    return {
        "result": {k: v for k, v in waiting.result.items() if k != "processing"},
        "timings": waiting.timings,
        "plugin": request.plugin,
        "parent_id": None,
    }


async def test_a_then_process_request_revoked_while_it_waits_never_succeeds() -> None:
    sinks = Sinks()
    runner = _runner(sinks)
    request, other = (make_request(dry_run=False, then_process=True) for _ in range(2))
    figures = {"items_processed": 5, "items_new": 5}
    waiting = await runner.run(request)
    sinks.revocations.revoked.add(request.request_id)  # revoked, then its items were processed
    final = await runner.complete(Pending(request.request_id, _waited(request, waiting), figures))
    assert (final.state, final.result and final.result["processing"]) == (
        RequestState.REVOKED,
        figures,
    )
    assert (
        final.error == f"request {request.request_id} was revoked while waiting for the processor"
    )
    assert sinks.processing.calls[-1] == ("finished", request.request_id)

    waiting = await runner.run(other)  # revoked while waiting: the tracker ended it
    so_far = {"items_processed": 2, "items_new": 1}
    ended = await runner.revoke(Pending(other.request_id, _waited(other, waiting), so_far))
    assert (ended.state, ended.result and ended.result["processing"]) == (
        RequestState.REVOKED,
        so_far,
    )
    assert sinks.processing.calls[-1] == ("finished", other.request_id)
    assert [run.state for run in sinks.runs.recorded] == [RequestState.REVOKED] * 2


async def test_a_then_process_request_says_it_waits_before_anyone_can_end_it() -> None:
    sinks = Sinks()
    said: list[object] = []

    async def expect(request_id: str, items: int, context: dict[str, Any]) -> Pending | None:
        said.append((sinks.statuses[-1].result or {}).get("processing"))
        raise RevokedError(f"request {request_id} was revoked while it ran")

    sinks.processing.expect = expect  # type: ignore[method-assign]
    final = await _runner(sinks).run(make_request(dry_run=False, then_process=True))
    assert said == ["waiting for the processor"]
    assert [s.state for s in sinks.statuses] == [
        RequestState.RECEIVED,
        RequestState.STARTED,
        RequestState.STARTED,
        RequestState.REVOKED,
    ]
    assert final.state is RequestState.REVOKED


async def test_a_request_revoked_before_it_ran_is_revoked_and_recorded() -> None:
    sinks = Sinks()
    request = make_request(dry_run=False)
    sinks.revocations.revoked.add(request.request_id)
    final = await _runner(sinks).run(request)
    assert (final.state, final.error) == (
        RequestState.REVOKED,
        f"request {request.request_id} was revoked before it ran",
    )
    assert [s.state for s in sinks.statuses] == [RequestState.RECEIVED, RequestState.REVOKED]
    assert sinks.items == [] and [run.state for run in sinks.runs.recorded] == [
        RequestState.REVOKED
    ]


async def test_the_last_child_to_end_closes_its_group() -> None:
    sinks = Sinks()
    runner = _runner(sinks, Dated(), Broken())
    parent = make_request(plugin="all", request_id="g1", options={}, dry_run=True)
    await runner.run(parent)
    finals = [await runner.run(child, lane) for child, lane in sinks.requests]
    assert {f.request_id: f.state for f in finals} == {
        "g1.broken": RequestState.FAILURE,
        "g1.dated": RequestState.SUCCESS,
    }
    closed = sinks.statuses[-1]
    assert (closed.request_id, closed.state, closed.plugin) == ("g1", RequestState.SUCCESS, "all")
    assert closed.result is not None and closed.result["partial_failure"] is True
