"""The request runner: the states it reports for good, bad and failing requests."""

from __future__ import annotations

from pathlib import Path

from services.collector.plugins import PluginRegistry, default_registry
from services.collector.runner import RequestRunner
from streams.config import load_settings
from streams.records import RawItem, RequestState, RequestStatus
from tests.factories import make_request

ROOT = Path(__file__).resolve().parents[3]


class Sinks:
    """In-memory sinks standing in for the result and item topics."""

    def __init__(self) -> None:
        self.statuses: list[RequestStatus] = []
        self.items: list[RawItem] = []

    async def status(self, status: RequestStatus) -> None:
        self.statuses.append(status)

    async def item(self, item: RawItem) -> None:
        self.items.append(item)


def _runner(sinks: Sinks, registry: PluginRegistry | None = None) -> RequestRunner:
    settings = load_settings(file_plugin_dir=ROOT)
    return RequestRunner(registry or default_registry(), settings, sinks.status, sinks.item)


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
    assert final.result == {"plugin": "file", "items": 5, "dry_run": False}
    assert len(sinks.items) == 5
    assert set(final.timings) == {"received", "started", "finished"}


async def test_a_dry_run_publishes_no_item_and_returns_a_sample() -> None:
    sinks = Sinks()
    final = await _runner(sinks).run(make_request(dry_run=True))
    assert final.state is RequestState.SUCCESS
    assert sinks.items == []
    assert final.result is not None
    assert len(final.result["sample"]) == 5


async def test_an_unknown_plugin_fails_with_the_known_ones_listed() -> None:
    sinks = Sinks()
    final = await _runner(sinks).run(make_request(plugin="nope"))
    assert final.state is RequestState.FAILURE
    assert final.error == "unknown plugin 'nope'; known plugins: file"
    assert final.error_type == "UnknownPluginError"


async def test_malformed_json_fails_under_the_fallback_id() -> None:
    sinks = Sinks()
    final = await _runner(sinks).handle(b"{oops", "invalid-collect.requests-0-7")
    assert final.request_id == "invalid-collect.requests-0-7"
    assert final.state is RequestState.FAILURE
    assert final.error_type == "RecordValidationError"
    assert final.error is not None and "not valid JSON" in final.error
    assert len(sinks.statuses) == 1


async def test_a_crashing_plugin_becomes_a_failure() -> None:
    class Broken:
        name = "broken"

        def options(self, given: dict[str, object]) -> dict[str, object]:
            return dict(given)

        async def collect(self, ctx: object, options: object):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("boom")
            yield  # pragma: no cover - makes this an async generator

    sinks = Sinks()
    registry = PluginRegistry([Broken()])  # type: ignore[list-item]
    final = await _runner(sinks, registry).run(make_request(plugin="broken"))
    assert final.state is RequestState.FAILURE
    assert (final.error_type, final.error) == ("ZeroDivisionError", "boom")
