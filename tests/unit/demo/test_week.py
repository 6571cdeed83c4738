"""The demo week and its source APIs, as pure logic: time shift, windows, the payloads' shapes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import feedparser  # type: ignore[import-untyped]
import pytest

from streams.demo.apis import FEED_ENTRIES, LOOKBACK, SourceApis
from streams.demo.week import SOURCES, Week, hour_of

NOW = datetime(2027, 3, 10, 14, 25, tzinfo=UTC)


@pytest.fixture(scope="module")
def week() -> Week:
    return Week.load().ending_before(NOW)


def _get(apis: SourceApis, path: str, clock: datetime, **query: str) -> tuple[int, bytes]:
    reply = apis.answer(path, {k: [v] for k, v in query.items()}, {}, clock)
    return reply.status, reply.body


def test_the_week_has_four_sources_over_seven_days_in_order() -> None:
    week = Week.load()
    assert len(week) == 447
    assert Counter(item.source for item in week) == {
        "rss": 124,
        "reddit": 119,
        "mastodon": 117,
        "hackernews": 87,
    }
    times = [item.published_at for item in week]
    assert times == sorted(times)
    assert timedelta(days=6) < week.end - week.start < timedelta(days=7)
    assert len(set(week.keys())) == len(week)
    assert all(item.channel for item in week if item.source in ("reddit", "rss"))


def test_the_week_is_moved_by_whole_hours_to_end_in_the_hour_before_now(week: Week) -> None:
    original = Week.load()
    assert hour_of(week.end) == hour_of(NOW) - timedelta(hours=1)
    shifts = {new.published_at - old.published_at for new, old in zip(week, original, strict=True)}
    assert len(shifts) == 1
    (shift,) = shifts
    assert shift.total_seconds() % 3600 == 0
    assert [item.key for item in week] == [item.key for item in original]


def test_hacker_news_lists_show_the_last_day_and_items_exist_once_published(
    week: Week,
) -> None:
    apis, clock = SourceApis(week), hour_of(week.start) + timedelta(days=3)
    status, body = _get(apis, "/v0/newstories.json", clock)
    ids = json.loads(body)
    expected = week.published("hackernews", clock, clock - LOOKBACK)
    assert status == 200 and ids == [int(item.source_id) for item in expected] and ids
    _, top = _get(apis, "/v0/topstories.json", clock)
    assert sorted(json.loads(top)) == sorted(ids)
    story = json.loads(_get(apis, f"/v0/item/{ids[0]}.json", clock)[1])
    assert story["type"] == "story" and story["title"] == expected[0].title
    assert story["time"] == int(expected[0].published_at.timestamp())
    later = week.published("hackernews", week.end, clock)[-1]
    assert json.loads(_get(apis, f"/v0/item/{later.source_id}.json", clock)[1]) is None
    assert _get(apis, "/v0/nosuchstories.json", clock)[0] == 404


def test_reddit_listings_are_per_subreddit_newest_first_and_limited(week: Week) -> None:
    apis, clock = SourceApis(week), week.end
    sub = week.published("reddit", clock)[0].channel
    status, body = _get(apis, f"/r/{sub}/new.json", clock, limit="3")
    listing = json.loads(body)
    posts = [child["data"] for child in listing["data"]["children"]]
    assert status == 200 and listing["kind"] == "Listing"
    assert 0 < len(posts) <= 3
    assert all(post["subreddit"] == sub and post["name"].startswith("t3_") for post in posts)
    created = [post["created_utc"] for post in posts]
    assert created == sorted(created, reverse=True)
    assert all(post["created_utc"] <= clock.timestamp() for post in posts)
    assert _get(apis, "/r/nosuchsub/new.json", clock)[0] == 404


def test_feeds_parse_as_rss_and_atom_with_their_latest_entries(week: Week) -> None:
    apis, clock = SourceApis(week, "http://demo"), week.end
    kinds = apis.feed_kinds
    assert set(kinds.values()) == {"xml", "atom"}
    for name, kind in kinds.items():
        reply = apis.answer(f"/feeds/{name}.{kind}", {}, {}, clock)
        feed = feedparser.parse(reply.body)
        expected = [i for i in week.published("rss", clock) if i.channel == name]
        assert reply.status == 200 and not feed.bozo, (name, feed.get("bozo_exception"))
        assert feed.version.startswith("atom" if kind == "atom" else "rss")
        assert [e.title for e in feed.entries] == [i.title for i in expected[:FEED_ENTRIES]]
        assert [e.id for e in feed.entries] == [i.source_id for i in expected[:FEED_ENTRIES]]


def test_a_feed_answers_304_to_its_own_etag_until_it_changes(week: Week) -> None:
    apis = SourceApis(week)
    name = next(iter(apis.feed_kinds))
    path = f"/feeds/{name}.{apis.feed_kinds[name]}"
    entries = [i for i in week.published("rss", week.end) if i.channel == name]
    first = apis.answer(path, {}, {}, entries[1].published_at)
    etag = first.headers["ETag"]
    again = apis.answer(path, {}, {"if-none-match": etag}, entries[1].published_at)
    assert again.status == 304 and again.body == b""
    changed = apis.answer(path, {}, {"if-none-match": etag}, entries[0].published_at)
    assert changed.status == 200 and changed.headers["ETag"] != etag


def test_mastodon_trends_show_the_last_day_as_statuses_and_tags(week: Week) -> None:
    apis, clock = SourceApis(week), week.end
    statuses = json.loads(_get(apis, "/api/v1/trends/statuses", clock, limit="40")[1])
    expected = week.published("mastodon", clock, clock - LOOKBACK)
    assert {s["id"] for s in statuses} == {i.source_id for i in expected}
    status = statuses[0]
    assert status["content"].startswith("<p>") and status["account"]["acct"]
    assert {"favourites_count", "reblogs_count", "replies_count", "created_at"} <= set(status)
    assert len(json.loads(_get(apis, "/api/v1/trends/statuses", clock, limit="2")[1])) == 2
    tags = json.loads(_get(apis, "/api/v1/trends/tags", clock)[1])
    assert tags and all(len(tag["history"]) == 7 for tag in tags)
    assert all(int(tag["history"][0]["uses"]) >= 0 for tag in tags)


def test_every_item_is_served_by_a_collection_every_six_hours(week: Week) -> None:
    """Stepping the clock by 6 h, the lists and listings the demo reads show every item once."""
    apis, served = SourceApis(week), set()
    clock = hour_of(week.start)
    while clock < hour_of(week.end) + timedelta(hours=1):
        clock += timedelta(hours=6)
        ids = json.loads(_get(apis, "/v0/newstories.json", clock)[1])
        served |= {("hackernews", str(i)) for i in ids}
        for sub in week.channels("reddit"):
            listing = json.loads(_get(apis, f"/r/{sub}/new.json", clock, limit="50")[1])
            served |= {("reddit", c["data"]["name"]) for c in listing["data"]["children"]}
        for name, kind in apis.feed_kinds.items():
            feed = feedparser.parse(apis.answer(f"/feeds/{name}.{kind}", {}, {}, clock).body)
            served |= {("rss", entry.id) for entry in feed.entries}
        statuses = json.loads(_get(apis, "/api/v1/trends/statuses", clock, limit="40")[1])
        served |= {("mastodon", s["id"]) for s in statuses}
    assert served == set(week.keys())
    assert {source for source, _ in served} == set(SOURCES)
