"""The demo sources server over real HTTP: each plugin reads the week from it, and a collector
worker's `all` collection fetches items from every source."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from services.collector.http import SourceHttp
from services.collector.plugins import Plugin, PluginContext
from services.collector.plugins.hackernews import HackerNewsPlugin
from services.collector.plugins.mastodon import MastodonPlugin
from services.collector.plugins.reddit import RedditPlugin
from services.collector.plugins.rss import RssPlugin
from streams.config import Settings
from streams.demo import DemoServer, Progress, Replay, Week, plugin_settings
from streams.demo.apis import LOOKBACK
from streams.demo.week import hour_of
from streams.messages.records import RawItem, RequestState
from streams.messages.topics import ITEMS_RAW
from streams.operations.inspect import top_trends
from streams.requests.client import request_collection
from tests.conftest import unique_namespace
from tests.support.kafka import read_until
from tests.support.workers import Worker

pytestmark = pytest.mark.integration

SOURCES = {"hackernews", "reddit", "rss", "mastodon"}


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    """The demo server on a free port, its week ending an hour ago."""
    with DemoServer(Week.load().ending_before(datetime.now(UTC))) as server:
        yield server


def demo_settings(base: Settings, server: DemoServer) -> Settings:
    """`base` with the plugin settings scripts/run gives the workers of a demo stack, and no
    collection schedules (a scheduled collection would take some items from the test's)."""
    overrides: dict[str, Any] = {
        name.lower(): value for name, value in plugin_settings(server.url, server.week).items()
    }
    parsed = Settings(**overrides)  # the variables' text, parsed as the workers parse it
    update = {name: getattr(parsed, name) for name in overrides}
    return base.model_copy(update={**update, "schedule_all": "", "schedule_high_frequency": ""})


@pytest.fixture
async def redis(servers: Settings) -> AsyncIterator[tuple[Redis, str]]:
    """The real Redis and a fresh key prefix; the prefix's keys are deleted after the test."""
    client, namespace = Redis.from_url(servers.redis_url), unique_namespace()
    yield client, namespace
    keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _collect(plugin: Plugin, settings: Settings, redis: Redis) -> list[RawItem]:
    async with SourceHttp(plugin.name, settings, None) as http:
        ctx = PluginContext("demo-test", settings, False, http, redis)
        return [item async for item in plugin.collect(ctx, plugin.options({}))]


@pytest.mark.parametrize(
    "plugin",
    [HackerNewsPlugin(), RedditPlugin(), RssPlugin(), MastodonPlugin()],
    ids=lambda plugin: plugin.name,
)
async def test_each_plugin_reads_the_last_day_of_the_week(
    plugin: Plugin,
    demo_server: DemoServer,
    servers: Settings,
    redis: tuple[Redis, str],
) -> None:
    client, namespace = redis
    settings = demo_settings(servers.model_copy(update={"namespace": namespace}), demo_server)
    clock = demo_server.week.end
    demo_server.set_clock(clock)
    items = await _collect(plugin, settings, client)
    window = demo_server.week.published(plugin.name, clock, clock - LOOKBACK)
    if plugin.name == "rss":  # a feed shows its latest entries, whatever their age
        window = demo_server.week.published("rss", clock)
    got = {item.source_id: item for item in items}
    assert {item.source for item in items} == {plugin.name}
    assert len(got) == len(items)
    assert {i.source_id for i in window if plugin.name != "rss"} <= set(got)
    for expected in window:
        item = got.get(expected.source_id)
        if item is None:
            assert plugin.name == "rss"  # beyond a feed's latest entries
            continue
        assert item.title == expected.title
        assert item.published_at == expected.published_at
        if plugin.name in ("hackernews", "reddit"):
            assert (item.score, item.comments) == (expected.score, expected.comments)
    assert demo_server.requests[plugin.name] > 0


async def test_the_clock_decides_what_the_sources_show(
    demo_server: DemoServer, servers: Settings, redis: tuple[Redis, str]
) -> None:
    client, namespace = redis
    settings = demo_settings(servers.model_copy(update={"namespace": namespace}), demo_server)
    demo_server.set_clock(demo_server.week.start + timedelta(hours=12))
    early = await _collect(HackerNewsPlugin(), settings, client)
    assert early and all(item.published_at <= demo_server.clock for item in early)
    demo_server.set_clock(demo_server.week.end)
    late = await _collect(HackerNewsPlugin(), settings, client)
    assert late and not {i.source_id for i in early} & {i.source_id for i in late}


async def test_an_all_collection_fetches_every_source_over_http(
    demo_server: DemoServer,
    test_settings: Settings,
    start_workers: Callable[..., list[Worker]],
) -> None:
    settings = demo_settings(test_settings, demo_server)
    demo_server.set_clock(demo_server.week.end)
    start_workers("collector", settings)
    handle = await request_collection("all", requested_by="demo-test", settings=settings)
    async with handle:
        status = await handle.wait(timeout=90)
    assert status.state is RequestState.SUCCESS, status.error
    result = status.result or {}
    assert not result.get("failures"), result
    children = result["children"]
    assert set(children) == SOURCES
    assert all(children[name]["items_published"] > 0 for name in SOURCES), children
    assert all(demo_server.requests.get(name, 0) > 0 for name in SOURCES), demo_server.requests
    published = result["items_published"]
    values = await read_until(settings, ITEMS_RAW, lambda v: len(v) >= published)
    items = [RawItem.parse(value) for value in values]
    assert {item.source for item in items} == SOURCES
    week = {item.key for item in demo_server.week}
    assert all((item.source, item.source_id) in week for item in items)


async def test_the_replay_ends_in_trends_in_postgresql_and_on_trends_updates(
    test_settings: Settings, start_workers: Callable[..., list[Worker]]
) -> None:
    """Two and a half days of the week through a collector and a processor, as scripts/run."""
    bundled = Week.load()
    week = Week.of(i for i in bundled if i.published_at < bundled.start + timedelta(hours=60))
    with DemoServer(week.ending_before(datetime.now(UTC))) as server:
        settings = demo_settings(test_settings, server)
        start_workers("collector", settings)
        start_workers("processor", settings)
        progress: list[Progress] = []
        replay = Replay(settings, server.url, week=week, on_progress=progress.append)
        result = await replay.run()
        again = await Replay(settings, server.url, week=week).run()  # a re-run: nothing to do
    assert result.caught_up and result.late_steps == 0, result
    span = hour_of(week.end) + timedelta(hours=1) - hour_of(week.start)
    assert result.collections == math.ceil(span / timedelta(hours=6))  # one per 6 demo hours
    assert result.collected == len(week) == result.stats.stored == result.stats.processed
    assert set(result.by_source) == SOURCES and all(result.by_source.values())
    assert result.stats.topics > 0 and result.updates > 0
    clocks = [p.clock for p in progress]
    assert clocks == sorted(clocks) and progress[-1].stats.processed == len(week)
    found = await top_trends(settings, 5)
    assert found and all(trend.representative_title for trend in found)
    assert again.collections == 0 and again.stored_before == len(week)
