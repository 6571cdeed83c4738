"""The request runner: the states it reports for good, bad, failing and oversized requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from services.collector.plugins import Plugin, PluginContext, PluginRegistry
from services.collector.plugins.file import FilePlugin
from services.collector.runner import CollectorDeps, Lane, RequestRunner
from streams.config import load_settings
from streams.limits import TimeLimits
from streams.records import CollectRequest, RawItem, RequestState, RequestStatus
from streams.retry import RetryPolicy
from tests.factories import make_item, make_request

ROOT = Path(__file__).resolve().parents[3]


class Sinks:
    """In-memory sinks standing in for the result, item and request topics."""

    def __init__(self) -> None:
        self.statuses: list[RequestStatus] = []
        self.items: list[RawItem] = []
        self.requests: list[tuple[CollectRequest, Lane]] = []

    async def status(self, status: RequestStatus) -> None:
        self.statuses.append(status)

    async def item(self, item: RawItem) -> None:
        self.items.append(item)

    async def request(self, request: CollectRequest, lane: Lane) -> None:
        self.requests.append((request, lane))


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


def _runner(sinks: Sinks, *plugins: Plugin, **settings: Any) -> RequestRunner:
    registry = PluginRegistry(list(plugins) or [FilePlugin()])
    return RequestRunner(
        CollectorDeps(
            registry,
            load_settings(file_plugin_dir=ROOT, **settings),
            sinks.status,
            sinks.item,
            sinks.request,
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
        runner = _runner(sinks)
        runner.deps.policy = RetryPolicy(max_retries=3, backoff_s=0.01)
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


async def test_a_group_without_redis_fails_clearly() -> None:
    sinks = Sinks()
    group = make_request(plugin="high_frequency", options={})
    final = await _runner(sinks, Dated()).run(group)
    assert final.state is RequestState.FAILURE
    assert final.error == "group requests need Redis, and this runner has none"
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
    runner = _runner(sinks, Broken())
    runner.deps.policy = RetryPolicy(max_retries=1, backoff_s=10, jitter=False)
    first = await runner.run(make_request(plugin="broken", dry_run=False))
    assert (first.state, first.retries) == (RequestState.RETRY, 1)
    assert first.eta is not None and first.updated_at is not None
    assert round((first.eta - first.updated_at).total_seconds()) == 10
    assert first.traceback and "ZeroDivisionError" in first.traceback
    second = await runner.run(make_request(plugin="broken", dry_run=False), attempt=1)
    assert (second.state, second.retries) == (RequestState.FAILURE, 2)
