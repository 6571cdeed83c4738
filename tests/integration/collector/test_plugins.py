"""The HTTP source plugins against a local HTTP server and the real Redis: parsing, resilience."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from services.collector.http import SourceHttp, retry_after_seconds
from services.collector.plugins import Plugin, PluginContext, PluginError
from services.collector.plugins.hackernews import HackerNewsPlugin
from services.collector.plugins.mastodon import MastodonPlugin
from services.collector.plugins.reddit import RedditPlugin
from services.collector.plugins.rss import RssPlugin
from services.collector.ratelimit import RateLimiter, RedisRateLimiter
from streams.config import Settings, load_settings
from streams.messages.records import RawItem
from tests.conftest import unique_namespace
from tests.support.http import FixtureServer, Reply
from tests.support.workers import apoll, free_port

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HN, REDDIT, RSS, MASTODON = (
    FIXTURES / name for name in ("hackernews", "reddit", "rss", "mastodon")
)
TECH_FEED, BLOG_FEED = "/feeds/tech.xml", "/feeds/blog.atom"
RSS_TYPE, ATOM_TYPE = "application/rss+xml", "application/atom+xml"
MakeSettings = Callable[..., Settings]


def at(moment: str) -> datetime:
    """A UTC datetime from "YYYY-MM-DD HH:MM:SS"."""
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


@pytest.fixture
def namespace() -> str:
    return unique_namespace()


@pytest.fixture
def make(servers: Settings, fixture_server: FixtureServer, namespace: str) -> MakeSettings:
    """Settings pointing every source at the fixture server, with quick retries."""

    def make(**overrides: Any) -> Settings:
        url = fixture_server.url
        fields = {
            "redis_url": servers.redis_url,
            "namespace": namespace,
            "hackernews_base_url": url,
            "reddit_base_url": url,
            "mastodon_base_url": url,
            "rss_feeds": (f"{url}{TECH_FEED}",),
            "http_backoff_s": 0.01,
            "http_backoff_max_s": 0.05,
        }
        return load_settings(**{**fields, **overrides})

    return make


@pytest.fixture
async def redis(servers: Settings, namespace: str) -> AsyncIterator[Redis]:
    """A client of the real Redis; the test's keys are deleted after it."""
    client = Redis.from_url(servers.redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def collect(
    plugin: Plugin,
    settings: Settings,
    redis: Redis | None = None,
    *,
    dry_run: bool = False,
    limiter: RateLimiter | None = None,
    **options: Any,
) -> list[RawItem]:
    """Run the plugin once, as the runner would, and gather its items."""
    async with SourceHttp(plugin.name, settings, limiter) as http:
        ctx = PluginContext("req-42", settings, dry_run, http, redis)
        return [item async for item in plugin.collect(ctx, plugin.options(options))]


def serve_hackernews(server: FixtureServer) -> None:
    for name in ("top", "new", "best"):
        server.route(f"/v0/{name}stories.json", Reply.file(HN / f"{name}stories.json"))
    for path in (HN / "items").glob("*.json"):
        server.route(f"/v0/item/{path.name}", Reply.file(path))


def serve_reddit(server: FixtureServer) -> None:
    for path in REDDIT.glob("*.json"):
        subreddit, listing = path.stem.split("_")
        server.route(f"/r/{subreddit}/{listing}.json", Reply.file(path))


def serve_rss(server: FixtureServer) -> None:
    server.route(TECH_FEED, Reply.file(RSS / "tech.xml", RSS_TYPE))
    server.route(BLOG_FEED, Reply.file(RSS / "blog.atom", ATOM_TYPE))


def serve_mastodon(server: FixtureServer) -> None:
    server.route("/api/v1/trends/statuses", Reply.file(MASTODON / "trends_statuses.json"))
    server.route("/api/v1/trends/tags", Reply.file(MASTODON / "trends_tags.json"))


# --- parsing -----------------------------------------------------------------------------------


async def test_hackernews_merges_the_lists_and_keeps_live_stories(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_hackernews(fixture_server)
    items = await collect(HackerNewsPlugin(), make(), redis)
    ids = ["40211001", "40210876", "40211230", "40207770", "40211412", "40198812"]
    assert [item.source_id for item in items] == ids  # deleted, dead, null and job left out
    first = items[0]
    assert (first.source, first.title, first.author) == (
        "hackernews",
        "SQLite is not a toy database",
        "tptacek_fan",
    )
    assert (first.url, first.score, first.comments) == (
        "https://antonz.org/sqlite-is-not-a-toy-database/",
        687,
        214,
    )
    assert first.published_at == at("2024-05-01 10:10:00")
    assert all(item.request_id == "req-42" for item in items)
    fetched = [seen.path for seen in fixture_server.requests() if seen.path.startswith("/v0/item/")]
    assert len(fetched) == len(set(fetched)) == 10  # every id once, duplicates merged


async def test_hackernews_ask_hn_links_to_its_discussion(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_hackernews(fixture_server)
    items = {item.source_id: item for item in await collect(HackerNewsPlugin(), make(), redis)}
    ask = items["40210876"]
    assert ask.url == "https://news.ycombinator.com/item?id=40210876"
    assert ask.title == "Ask HN: How did you choose between management and IC?"
    assert ask.text.startswith("I&#x27;ve been a backend developer")  # HTML kept as is
    assert (ask.score, ask.comments, ask.author) == (412, 388, "quietcoder")


async def test_hackernews_limit_caps_the_ids_before_fetching(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_hackernews(fixture_server)
    items = await collect(HackerNewsPlugin(), make(), redis, limit=4)
    assert [item.source_id for item in items] == ["40211001", "40210876", "40211230"]
    assert fixture_server.requests("/v0/newstories.json") == []
    assert len([s for s in fixture_server.requests() if s.path.startswith("/v0/item/")]) == 4


async def test_hackernews_rejects_an_unknown_list(make: MakeSettings, redis: Redis) -> None:
    with pytest.raises(PluginError, match="option 'lists' must be names among ask, best"):
        await collect(HackerNewsPlugin(), make(), redis, lists=["trending"])


async def test_reddit_reads_every_listing_and_dedupes(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_reddit(fixture_server)
    options: dict[str, Any] = {
        "subreddits": ["programming", "technology"],
        "listings": ["hot", "new"],
    }
    items = await collect(RedditPlugin(), make(), redis, **options)
    assert [item.source_id for item in items] == [
        "t3_1cha2k9",
        "t3_1chb7xq",
        "t3_1ch9zzt",
        "t3_1chd001",
        "t3_1ch8u2m",
        "t3_1ch7q1w",
        "t3_1chd5ab",
    ]  # the stickied t3_1cgs001 is left out; t3_1chb7xq and t3_1ch8u2m come once
    link = items[0]
    assert (link.source, link.title, link.author) == (
        "reddit",
        "Why we moved from microservices back to a monolith",
        "sre_throwaway",
    )
    assert link.url == "https://engineering.example.com/posts/back-to-the-monolith"
    assert (link.score, link.comments, link.engagement) == (1834, 412, {"upvote_ratio": 0.93})
    assert link.published_at == at("2024-05-01 09:16:40")
    assert all(item.request_id == "req-42" for item in items)


async def test_reddit_self_post_links_to_its_permalink(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_reddit(fixture_server)
    items = await collect(RedditPlugin(), make(reddit_subreddits=("programming",)), redis)
    self_post = next(item for item in items if item.source_id == "t3_1chb7xq")
    assert self_post.url == (
        "https://www.reddit.com/r/programming/comments/1chb7xq/"
        "whats_the_most_underrated_data_structure_you_use/"
    )
    assert self_post.text.startswith("Mine is the **skip list**")
    assert self_post.score == 642
    [request] = fixture_server.requests("/r/programming/hot.json")
    assert request.query == {"limit": ["50"], "raw_json": ["1"]}


async def test_reddit_rejects_an_unknown_listing(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    with pytest.raises(
        PluginError, match="reddit: option 'listings' must be listings among hot, new, rising, top"
    ):
        await collect(RedditPlugin(), make(), redis, listings=["hot", "controversial"])
    assert fixture_server.requests() == []


async def test_rss_2_0_entries(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_rss(fixture_server)
    items = await collect(RssPlugin(), make(), redis)
    assert len(items) == 5  # the entry without a title is left out
    first, chips, burnout, quantum, phones = items
    assert (first.source, first.source_id, first.author) == (
        "rss",
        "urn:example-news:tech:1001",
        "Jane Doe",
    )
    assert first.title == "EU opens inquiry into AI chatbot data practices"
    assert first.url == "https://news.example.com/tech/2024/05/01/eu-ai-inquiry"
    assert first.text == "Regulators want to know how conversations are used to train models."
    assert first.published_at == at("2024-05-01 09:30:00")
    assert chips.published_at == at("2024-05-01 10:15:00")  # +0100 in the feed
    assert chips.text == "<p>Three companies announced <b>new plants</b> this week.</p>"
    assert burnout.source_id == "https://news.example.com/tech/2024/04/30/maintainer-burnout"
    title = "Quantum start-up claims error-correction milestone"
    assert quantum.source_id == hashlib.sha256(title.encode()).hexdigest()
    assert (quantum.url, quantum.author) == (None, None)
    assert quantum.text == "<p>The company says its logical qubits beat physical ones.</p>"
    assert phones.source_id == "urn:example-news:tech:0998"
    assert all(item.request_id == "req-42" for item in items)


async def test_atom_entries(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_rss(fixture_server)
    feeds = [f"{fixture_server.url}{BLOG_FEED}"]
    items = await collect(RssPlugin(), make(), redis, feeds=feeds)
    assert [item.source_id for item in items] == [
        f"tag:blog.example.org,2024:post-{number}" for number in (42, 41, 40, 39, 38)
    ]
    first, partitions, backpressure = items[:3]
    assert first.title == "Exactly-once in Kafka Streams, explained with diagrams"
    assert first.url == "https://blog.example.org/2024/05/exactly-once"
    assert (first.author, first.published_at) == ("Maria Keller", at("2024-05-01 08:00:00"))
    assert partitions.title == "Choosing partition counts & keys"  # an HTML title, unescaped
    assert partitions.published_at == at("2024-04-28 14:20:00")  # only <updated>, +02:00
    assert partitions.text == "<p>More partitions are not always better.</p>"
    assert backpressure.author is None


async def test_rss_limit_spans_feeds(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_rss(fixture_server)
    feeds = [f"{fixture_server.url}{TECH_FEED}", f"{fixture_server.url}{BLOG_FEED}"]
    assert len(await collect(RssPlugin(), make(), redis, feeds=feeds)) == 10
    assert len(await collect(RssPlugin(), make(), redis, feeds=feeds, limit=7)) == 7


async def test_mastodon_trending_statuses_and_tags(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_mastodon(fixture_server)
    items = await collect(MastodonPlugin(), make(), redis)
    statuses, tags = items[:5], items[5:]
    assert [item.source_id for item in statuses] == [
        "112366001234567890",
        "112365998877665544",
        "112365700011122233",
        "112365512345678901",
        "112365300000000002",
    ]  # the status with neither text nor card is left out
    carded = statuses[0]
    assert carded.title == "Strong aurora expected across Northern Europe tonight"
    assert carded.text == (
        "Aurora alert! 🌌 If you're in Scotland or Scandinavia, look north after 23:00.\n#aurora"
    )
    assert (carded.author, carded.score, carded.comments) == ("astro_katie", 2871, 58)
    assert carded.engagement == {"reblogs": 1204, "favourites": 2871}
    assert carded.url == "https://mastodon.social/@astro_katie/112366001234567890"
    assert carded.published_at == at("2024-05-01 10:02:11")
    assert statuses[1].title == (
        "Our county finally got fibre. It took 11 years, 3 grants & one very stubborn "
        "librarian. Thread 🧵"
    )
    assert statuses[1].author == "ruralbroadband@fosstodon.org"
    assert statuses[2].url == "https://botsin.space/users/nasa_webb/statuses/112365700011122233"
    assert statuses[2].text.endswith("Details: https://webbtelescope.example/horsehead")
    assert len(statuses[3].title) == 120
    assert statuses[3].text.startswith(statuses[3].title)
    assert [tag.title for tag in tags] == [
        "#aurora",
        "#linux",
        "#MayDay",
        "#gardening",
        "#photography",
    ]
    aurora = tags[0]
    assert (aurora.source, aurora.source_id) == ("mastodon", "tag:aurora:1714521600")
    assert (aurora.url, aurora.score) == ("https://mastodon.social/tags/aurora", 1540)
    assert aurora.engagement == {"accounts": 812, "uses": 1540}
    assert aurora.published_at == at("2024-05-01 00:00:00")
    assert all(item.request_id == "req-42" for item in items)
    [request] = fixture_server.requests("/api/v1/trends/statuses")
    assert request.query == {"limit": ["40"]}


async def test_mastodon_tags_can_be_left_out(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    serve_mastodon(fixture_server)
    items = await collect(MastodonPlugin(), make(mastodon_include_tags=False), redis)
    assert len(items) == 5
    assert not any(item.source_id.startswith("tag:") for item in items)
    assert fixture_server.requests("/api/v1/trends/tags") == []


# --- conditional requests ----------------------------------------------------------------------

ETAG, MODIFIED = '"tech-v1"', "Wed, 01 May 2024 12:00:00 GMT"
VALIDATED = Reply.file(RSS / "tech.xml", RSS_TYPE, ETag=ETAG, **{"Last-Modified": MODIFIED})


async def test_rss_second_run_is_conditional_and_304_yields_nothing(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    fixture_server.route(TECH_FEED, VALIDATED, Reply(304))
    settings = make()
    assert len(await collect(RssPlugin(), settings, redis)) == 5
    key = f"{settings.namespace}rss:validators:{fixture_server.url}{TECH_FEED}"
    assert await redis.hgetall(key) == {b"etag": ETAG.encode(), b"last_modified": MODIFIED.encode()}
    assert await collect(RssPlugin(), settings, redis) == []
    first, second = fixture_server.requests(TECH_FEED)
    assert "if-none-match" not in first.headers
    assert "if-modified-since" not in first.headers
    assert second.headers["if-none-match"] == ETAG
    assert second.headers["if-modified-since"] == MODIFIED


async def test_rss_dry_run_neither_sends_nor_stores_validators(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    fixture_server.route(TECH_FEED, VALIDATED)
    settings = make()
    for _ in range(2):
        assert len(await collect(RssPlugin(), settings, redis, dry_run=True)) == 5
    assert [key async for key in redis.scan_iter(match=f"{settings.namespace}*")] == []
    assert all("if-none-match" not in seen.headers for seen in fixture_server.requests())


async def test_rss_a_cut_short_feed_keeps_no_validators(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    fixture_server.route(TECH_FEED, VALIDATED)
    settings = make()
    assert len(await collect(RssPlugin(), settings, redis, limit=2)) == 2
    assert await collect(RssPlugin(), settings, redis, limit=2) != []
    assert "if-none-match" not in fixture_server.requests(TECH_FEED)[1].headers


# --- resilience, every plugin ------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """How to run one plugin against the fixture server, and what its first request is."""

    plugin: Plugin
    path: str
    good: Reply
    serve: Callable[[FixtureServer], None]
    items: int
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.plugin.name


SOURCES = [
    Source(
        HackerNewsPlugin(),
        "/v0/topstories.json",
        Reply.file(HN / "topstories.json"),
        serve_hackernews,
        2,
        {"lists": ["top"], "limit": 3},
    ),
    Source(
        RedditPlugin(),
        "/r/programming/hot.json",
        Reply.file(REDDIT / "programming_hot.json"),
        serve_reddit,
        3,
        {"subreddits": ["programming"], "listings": ["hot"]},
    ),
    Source(RssPlugin(), TECH_FEED, Reply.file(RSS / "tech.xml", RSS_TYPE), serve_rss, 5),
    Source(
        MastodonPlugin(),
        "/api/v1/trends/statuses",
        Reply.file(MASTODON / "trends_statuses.json"),
        serve_mastodon,
        5,
        {"include_tags": False},
    ),
]
each_source = pytest.mark.parametrize("source", SOURCES, ids=str)


async def _run(
    source: Source, server: FixtureServer, settings: Settings, redis: Redis, *first: Reply
) -> list[RawItem]:
    """Serve the source's fixtures, its first request answered by `first` replies then good."""
    source.serve(server)
    server.route(source.path, *first, source.good)
    return await collect(source.plugin, settings, redis, **source.options)


@each_source
async def test_429_waits_for_retry_after_then_succeeds(
    source: Source, make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    throttled = Reply(429, b"slow down", {"Retry-After": "1"})
    started = time.monotonic()
    items = await _run(source, fixture_server, make(), redis, throttled)
    assert time.monotonic() - started >= 0.95
    assert len(items) == source.items
    assert len(fixture_server.requests(source.path)) == 2


@each_source
async def test_500_is_retried_then_succeeds(
    source: Source, make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    items = await _run(source, fixture_server, make(), redis, Reply(500, b"oops"))
    assert len(items) == source.items
    assert len(fixture_server.requests(source.path)) == 2


@each_source
async def test_a_slow_source_times_out_after_the_retries(
    source: Source, make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    settings = make(http_timeout_s=0.3, http_max_retries=1)
    url = f"{fixture_server.url}{source.path}"
    expected = f"{source.plugin.name}: GET {url} failed after 2 attempts: timed out"
    with pytest.raises(PluginError, match=re.escape(expected)):
        await _run(source, fixture_server, settings, redis, Reply(delay=2.0), Reply(delay=2.0))
    requests = fixture_server.requests(source.path)
    assert len(requests) == 2
    assert {seen.headers["user-agent"] for seen in requests} == {settings.http_user_agent}


BAD_JSON = Reply(200, b'{"kind": "Listing", "data": [', {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Malformed:
    """A bad answer to one of a plugin's requests, and the start of the error it must raise."""

    plugin: str
    path: str
    reply: Reply
    message: str
    """The expected message, without the plugin prefix; {url}: the server; …: anything."""

    def pattern(self, url: str) -> str:
        expected = f"{self.plugin}: " + self.message.format(url=url)
        return ".*".join(map(re.escape, expected.split("…")))

    def __str__(self) -> str:
        return f"{self.plugin}-{self.message.split(':')[-1].strip()[:30]}"


MALFORMED = [
    Malformed(
        "hackernews", "/v0/topstories.json", BAD_JSON, "malformed JSON from {url}/v0/topstories"
    ),
    Malformed(
        "hackernews",
        "/v0/topstories.json",
        Reply.json(["40211001"]),
        "unexpected payload from {url}/v0/topstories.json: 0: Input should be a valid integer",
    ),
    Malformed(
        "hackernews",
        "/v0/item/40211001.json",
        Reply.json({"id": 40211001, "type": "story", "time": 1714558200}),
        "unexpected payload from {url}/v0/item/40211001.json: the story has no title",
    ),
    Malformed(
        "hackernews",
        "/v0/item/40210876.json",
        Reply.json({"type": "story", "title": "No id"}),
        "unexpected payload from {url}/v0/item/40210876.json: id: Field required",
    ),
    Malformed(
        "reddit", "/r/programming/hot.json", BAD_JSON, "malformed JSON from {url}/r/programming"
    ),
    Malformed(
        "reddit",
        "/r/programming/hot.json",
        Reply.json({"kind": "Listing", "data": {"after": None}}),
        "unexpected payload from {url}/r/programming/hot.json: data.children: Field required",
    ),
    Malformed(
        "rss",
        TECH_FEED,
        Reply(200, b"this is not xml at all {", {"Content-Type": RSS_TYPE}),
        "{url}/feeds/tech.xml is not a readable feed: …: syntax error",
    ),
    Malformed(
        "rss",
        TECH_FEED,
        Reply(200, b"<html><body><p>Maintenance</p></body></html>", {"Content-Type": "text/html"}),
        "{url}/feeds/tech.xml is not a readable feed: text/html is not an XML media type",
    ),
    Malformed(
        "rss",
        TECH_FEED,
        Reply(200, b"<html><body><p>Maintenance</p></body></html>", {"Content-Type": RSS_TYPE}),
        "{url}/feeds/tech.xml is not a readable feed: no RSS or Atom document found",
    ),
    Malformed(
        "mastodon",
        "/api/v1/trends/statuses",
        BAD_JSON,
        "malformed JSON from {url}/api/v1/trends",
    ),
    Malformed(
        "mastodon",
        "/api/v1/trends/statuses",
        Reply.json({"error": "This API requires an authenticated user"}),
        "unexpected payload from {url}/api/v1/trends/statuses: "
        "payload: Input should be a valid list",
    ),
    Malformed(
        "mastodon",
        "/api/v1/trends/tags",
        Reply.json([{"name": "aurora", "url": "https://mastodon.social/tags/aurora"}]),
        "unexpected payload from {url}/api/v1/trends/tags: 0.history: Field required",
    ),
]


@pytest.mark.parametrize("case", MALFORMED, ids=str)
async def test_a_malformed_payload_fails_clearly(
    case: Malformed, make: MakeSettings, fixture_server: FixtureServer, redis: Redis
) -> None:
    source = next(source for source in SOURCES if source.plugin.name == case.plugin)
    source.serve(fixture_server)
    fixture_server.route(case.path, case.reply)
    options = {**source.options, "include_tags": True} if case.plugin == "mastodon" else {}
    with pytest.raises(PluginError, match=case.pattern(fixture_server.url)):
        await collect(source.plugin, make(), redis, **{**source.options, **options})


# --- the HTTP client -----------------------------------------------------------------------------


async def test_a_4xx_fails_at_once_naming_status_and_url(
    make: MakeSettings, fixture_server: FixtureServer
) -> None:
    fixture_server.route("/gone", Reply(404))
    url = f"{fixture_server.url}/gone"
    async with SourceHttp("reddit", make()) as http:
        with pytest.raises(PluginError, match=re.escape(f"reddit: GET {url} failed: HTTP 404")):
            await http.get(url)
    assert len(fixture_server.requests("/gone")) == 1


async def test_a_5xx_fails_after_the_last_retry(
    make: MakeSettings, fixture_server: FixtureServer
) -> None:
    fixture_server.route("/down", Reply(503))
    url = f"{fixture_server.url}/down"
    expected = f"hackernews: GET {url} failed after 4 attempts: HTTP 503"
    async with SourceHttp("hackernews", make(http_max_retries=3)) as http:
        with pytest.raises(PluginError, match=re.escape(expected)):
            await http.get(url)
    assert len(fixture_server.requests("/down")) == 4


async def test_a_refused_connection_is_retried_then_fails(make: MakeSettings) -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody"
    async with SourceHttp("rss", make(http_max_retries=2)) as http:
        with pytest.raises(PluginError, match=r"failed after 3 attempts: ConnectError"):
            await http.get(url)


async def test_a_too_long_retry_after_fails_at_once(
    make: MakeSettings, fixture_server: FixtureServer
) -> None:
    fixture_server.route("/busy", Reply(429, headers={"Retry-After": "3600"}), Reply(200))
    async with SourceHttp("mastodon", make(http_retry_after_max_s=60)) as http:
        with pytest.raises(
            PluginError, match=r"Retry-After 3600 s, more than HTTP_RETRY_AFTER_MAX"
        ):
            await http.get(f"{fixture_server.url}/busy")
    assert len(fixture_server.requests("/busy")) == 1


async def test_retry_after_as_an_http_date(
    make: MakeSettings, fixture_server: FixtureServer
) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=5), usegmt=True)
    future = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    # The delays themselves, without timing a wait (a loaded machine makes any bound flaky).
    assert retry_after_seconds(past) == 0.0
    assert 3000 < (retry_after_seconds(future) or 0) <= 3600
    fixture_server.route("/past", Reply(429, headers={"Retry-After": past}), Reply(200, b"ok"))
    fixture_server.route("/future", Reply(429, headers={"Retry-After": future}))
    async with SourceHttp("reddit", make(http_retry_after_max_s=60)) as http:
        assert (await http.get(f"{fixture_server.url}/past")).text == "ok"
        assert len(fixture_server.requests("/past")) == 2
        with pytest.raises(PluginError, match="more than HTTP_RETRY_AFTER_MAX_S"):
            await http.get(f"{fixture_server.url}/future")


async def test_a_304_is_returned(make: MakeSettings, fixture_server: FixtureServer) -> None:
    fixture_server.route("/same", Reply(304))
    async with SourceHttp("rss", make()) as http:
        assert (await http.get(f"{fixture_server.url}/same")).status_code == 304


async def test_requests_in_flight_are_bounded(
    make: MakeSettings, fixture_server: FixtureServer
) -> None:
    fixture_server.route("/slow", Reply(200, b"ok", delay=0.3))
    async with SourceHttp("hackernews", make(http_concurrency=1)) as http:
        started = time.monotonic()
        await asyncio.gather(*(http.get(f"{fixture_server.url}/slow") for _ in range(3)))
        assert time.monotonic() - started >= 0.85


async def test_the_limiter_is_taken_before_every_attempt(
    make: MakeSettings, fixture_server: FixtureServer, redis: Redis, namespace: str
) -> None:
    fixture_server.route("/flaky", Reply(502), Reply(503), Reply(200, b"ok"))
    limiter = RedisRateLimiter(redis, "reddit", 100, namespace)
    async with SourceHttp("reddit", make(), limiter) as http:
        assert (await http.get(f"{fixture_server.url}/flaky")).text == "ok"
    assert await redis.get(limiter.key(limiter.window())) == b"3"


# --- the shared rate limit -----------------------------------------------------------------------

WINDOW = 28_000_000  # a fixed minute, far from the real clock's keys


def fixed_clock(seconds_into_window: float = 1.0) -> Callable[[], float]:
    return lambda: WINDOW * 60 + seconds_into_window


async def test_the_budget_is_immediate_then_blocks(redis: Redis, namespace: str) -> None:
    limiter = RedisRateLimiter(redis, "hackernews", 3, namespace, clock=fixed_clock())
    for _ in range(3):  # within budget: no wait (on the fixed clock a wait would never end)
        await asyncio.wait_for(limiter.acquire(), 30)
    assert await redis.get(limiter.key(WINDOW)) == b"3"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire(), 0.5)


async def test_limiters_of_one_name_share_the_budget(redis: Redis, namespace: str) -> None:
    first = RedisRateLimiter(redis, "reddit", 3, namespace, clock=fixed_clock())
    second = RedisRateLimiter(redis, "reddit", 3, namespace, clock=fixed_clock())
    other = RedisRateLimiter(redis, "rss", 3, namespace, clock=fixed_clock())
    await first.acquire()
    await first.acquire()
    await second.acquire()
    assert await redis.get(f"{namespace}ratelimit:reddit:{WINDOW}") == b"3"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(second.acquire(), 0.5)
    await asyncio.wait_for(other.acquire(), 0.5)
    assert 0 < await redis.ttl(f"{namespace}ratelimit:reddit:{WINDOW}") <= 120


async def test_a_blocked_acquire_goes_on_when_the_window_ends(redis: Redis, namespace: str) -> None:
    now = [WINDOW * 60 + 59.0]  # the test moves this clock: no real time is raced
    limiter = RedisRateLimiter(redis, "mastodon", 3, namespace, clock=lambda: now[0])
    for _ in range(3):
        await asyncio.wait_for(limiter.acquire(), 30)
    blocked = asyncio.create_task(limiter.acquire())

    async def tried() -> bool:  # the fourth acquire counted itself in the spent window
        return bool(await redis.get(limiter.key(WINDOW)) == b"4")

    assert await apoll(tried, timeout=30, interval=0.01)
    assert not blocked.done()  # over budget: it waits for the window's end
    now[0] = (WINDOW + 1) * 60 + 0.5
    await asyncio.wait_for(blocked, 30)
    assert await redis.get(limiter.key(WINDOW + 1)) == b"1"


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="per_minute must be at least 1"):
        RedisRateLimiter(Redis(), "rss", 0)
