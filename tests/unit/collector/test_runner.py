"""The request runner: the states it reports for good, bad, failing and oversized requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from services.collector.plugins import Plugin, PluginContext, PluginRegistry
from services.collector.plugins.file import FilePlugin
from services.collector.runner import CollectorDeps, Lane, RequestRunner
from streams.config import load_settings
from streams.records import CollectRequest, RawItem, RequestState, RequestStatus
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
    assert final.error == "option 'since' must be an ISO 8601 time, got 'x'"


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
    final = await _runner(sinks, Dated()).run(make_request(plugin="high_frequency"))
    assert final.state is RequestState.FAILURE
    assert final.error == "group requests need Redis, and this runner has none"
    empty = await _runner(sinks, Broken()).run(make_request(plugin="high_frequency"))
    assert empty.error == "group 'high_frequency' has no enabled plugin"
