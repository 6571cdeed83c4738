"""Collections through the real services: plugins on local fixture APIs, groups, two workers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.config import Settings
from streams.messages.records import PluginHealthReport, RawItem, RequestState, RequestStatus
from streams.messages.topics import (
    COLLECT_REQUESTS,
    COLLECT_RESULTS,
    ITEMS_RAW,
    PLUGIN_HEALTH,
    ensure_topics,
)
from tests.factories import make_request
from tests.support.http import FixtureServer, Reply
from tests.support.kafka import produce, read_all, read_until, wait_final
from tests.support.sources import HACKERNEWS_STORIES, serve_sources
from tests.support.workers import Worker

StartWorkers = Callable[..., list[Worker]]
PLUGINS = {"hackernews", "reddit", "rss", "mastodon"}


@pytest.fixture
def source_settings(test_settings: Settings, fixture_server: FixtureServer) -> Settings:
    """The test's settings with every plugin pointed at the local fixture APIs."""
    return test_settings.model_copy(update=serve_sources(fixture_server))


async def _request(settings: Settings, **fields: Any) -> str:
    request = make_request(**fields)
    await produce(settings, COLLECT_REQUESTS, request.dumps(), request.request_id.encode())
    return request.request_id


async def test_hackernews_items_reach_items_raw(
    source_settings: Settings, start_workers: StartWorkers
) -> None:
    start_workers("collector", source_settings)
    request_id = await _request(source_settings, plugin="hackernews", options={}, dry_run=False)
    status = (await wait_final(source_settings, {request_id}))[request_id]
    assert status.state is RequestState.SUCCESS, status.error
    assert status.result is not None
    assert status.result["items_collected"] == status.result["items_published"] == 6
    values = await read_until(source_settings, ITEMS_RAW, lambda v: len(v) >= 6)
    items = [RawItem.parse(value) for value in values]
    assert {item.source_id for item in items} == HACKERNEWS_STORIES
    assert {item.request_id for item in items} == {request_id}
    conn = await asyncpg.connect(source_settings.database_url.get_secret_value())
    try:
        run = await conn.fetchrow("SELECT * FROM plugin_runs WHERE request_id = $1", request_id)
    finally:
        await conn.close()
    assert run is not None
    assert (run["plugin"], run["status"], run["items_collected"]) == ("hackernews", "SUCCESS", 6)
    assert run["duration_ms"] >= 0 and run["finished_at"] >= run["started_at"]


async def test_a_dry_run_publishes_nothing_and_returns_samples(
    source_settings: Settings, start_workers: StartWorkers
) -> None:
    start_workers("collector", source_settings)
    dry = await _request(source_settings, plugin="reddit", options={"sample_size": 3}, dry_run=True)
    marker = await _request(source_settings, plugin="hackernews", options={}, dry_run=False)
    finals = await wait_final(source_settings, {dry, marker})
    result = finals[dry].result
    assert result is not None
    assert result["items_collected"] > 3
    assert result["items_published"] == 0
    assert [RawItem.parse(item).source for item in result["sample"]] == ["reddit"] * 3
    values = await read_until(source_settings, ITEMS_RAW, lambda v: len(v) >= 6)
    assert {RawItem.parse(value).request_id for value in values} == {marker}


async def test_all_fans_out_and_reports_a_partial_failure(
    source_settings: Settings, fixture_server: FixtureServer, start_workers: StartWorkers
) -> None:
    fixture_server.route("/api/v1/trends/statuses", Reply(503, b"overloaded"))
    start_workers("collector", source_settings)
    parent = await _request(source_settings, plugin="all", options={}, dry_run=False)
    children = {f"{parent}.{name}" for name in PLUGINS}
    finals = await wait_final(source_settings, {parent} | children)
    status = finals[parent]
    assert status.state is RequestState.SUCCESS
    assert status.result is not None
    assert set(status.result["children"]) == PLUGINS
    assert status.result["partial_failure"] is True
    assert list(status.result["failures"]) == ["mastodon"]
    assert "HTTP 503" in status.result["failures"]["mastodon"]
    ok = [finals[f"{parent}.{name}"] for name in ("hackernews", "reddit", "rss")]
    assert all(child.state is RequestState.SUCCESS for child in ok)
    assert status.result["items_collected"] == sum(c.result["items_collected"] for c in ok)  # type: ignore[index]
    assert finals[f"{parent}.mastodon"].state is RequestState.FAILURE


def _parents_covering(partitions: int, count: int) -> list[str]:
    """Parent ids whose children's keys land on every partition of collect.requests."""
    partitioner, chosen, covered = DefaultPartitioner(), [], set()
    every = list(range(partitions))
    for n in range(10_000):
        parent = f"spread-{n}"
        keys = {partitioner(f"{parent}.{name}".encode(), every, every) for name in PLUGINS}
        if not keys <= covered or len(chosen) < count:
            chosen.append(parent)
            covered |= keys
        if covered == set(every) and len(chosen) >= count:
            return chosen
    raise AssertionError("no parent ids cover every partition")


async def test_two_workers_share_the_children_and_run_none_twice(
    source_settings: Settings, start_workers: StartWorkers
) -> None:
    first, second = start_workers("collector", source_settings, count=2)
    _wait_split(first, second, COLLECT_REQUESTS.full_name(source_settings))
    parents = _parents_covering(source_settings.topic_partitions, 2)
    for parent in parents:
        await _request(source_settings, plugin="all", request_id=parent, options={}, dry_run=True)
    children = {f"{parent}.{name}" for parent in parents for name in PLUGINS}
    finals = await wait_final(source_settings, set(parents) | children)
    pids = {str(first.process.pid), str(second.process.pid)}
    assert {finals[child].worker.rsplit(":", 1)[1] for child in children} == pids
    values = await read_all(source_settings, COLLECT_RESULTS)  # every status, not a first batch
    started = Counter(
        s.request_id for s in map(RequestStatus.parse, values) if s.state is RequestState.STARTED
    )
    assert all(started[child] == 1 for child in children)


def _wait_split(first: Worker, second: Worker, topic: str) -> None:
    """Wait until the two workers hold disjoint halves of the topic's partitions."""
    from tests.support.workers import poll

    def split() -> bool:
        a, b = (_partitions(w, topic) for w in (first, second))
        return bool(a) and bool(b) and not a & b

    assert poll(split, 90.0), "the two workers never split the partitions"


def _partitions(worker: Worker, topic: str) -> set[str]:
    response = worker.health()
    if response is None or response.status_code != 200:
        return set()
    return {tp for tp in response.json()["assignment"] if tp.rsplit(":", 1)[0] == topic}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
async def test_each_plugin_publishes_once_then_skips_seen_items(
    plugin: str, source_settings: Settings, start_workers: StartWorkers
) -> None:
    start_workers("collector", source_settings)
    first = await _request(source_settings, plugin=plugin, options={}, dry_run=False)
    status = (await wait_final(source_settings, {first}))[first]
    assert status.state is RequestState.SUCCESS, status.error
    assert status.result is not None
    published = status.result["items_published"]
    assert published == status.result["items_collected"] > 0
    values = await read_until(source_settings, ITEMS_RAW, lambda v: len(v) >= published)
    assert {RawItem.parse(value).source for value in values} == {plugin}
    again = await _request(source_settings, plugin=plugin, options={}, dry_run=False)
    repeat = (await wait_final(source_settings, {again}))[again].result
    assert repeat is not None
    assert repeat["items_published"] == 0
    assert repeat["items_already_seen"] == repeat["items_collected"]


async def test_then_process_succeeds_once_the_processor_stored_the_items(
    source_settings: Settings, start_workers: StartWorkers
) -> None:
    start_workers("collector", source_settings)
    request_id = await _request(
        source_settings, plugin="hackernews", options={}, dry_run=False, then_process=True
    )
    values = await read_until(
        source_settings,
        COLLECT_RESULTS,
        lambda v: any(b"waiting for the processor" in value for value in v),
    )
    assert not any(RequestStatus.parse(v).state.is_final for v in values)
    start_workers("processor", source_settings)
    status = (await wait_final(source_settings, {request_id}))[request_id]
    assert status.state is RequestState.SUCCESS
    assert status.result is not None
    assert status.result["processing"] == {"items_processed": 6, "items_new": 6}
    assert status.result["items_published"] == 6


async def test_a_group_skips_the_plugins_plugin_health_disabled(
    source_settings: Settings, start_workers: StartWorkers
) -> None:
    verdict = PluginHealthReport(plugin="reddit", window_hours=24, flagged=True, disabled=True)
    await ensure_topics(source_settings, (PLUGIN_HEALTH,))  # as the maintenance worker has
    await produce(source_settings, PLUGIN_HEALTH, verdict.dumps(), b"reddit")
    start_workers("collector", source_settings)
    parent = await _request(source_settings, plugin="all", options={}, dry_run=True)
    children = {f"{parent}.{name}" for name in PLUGINS - {"reddit"}}
    finals = await wait_final(source_settings, {parent} | children)
    result = finals[parent].result
    assert result is not None
    assert set(result["children"]) == PLUGINS - {"reddit"}
