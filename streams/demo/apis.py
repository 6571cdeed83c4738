"""The source APIs over the demo week: Hacker News, Reddit listings, RSS and Atom feeds, Mastodon
trends, each answering with what the real API would have shown at the demo's clock."""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from streams.demo.week import DemoItem, Week

__all__ = ["FEED_ENTRIES", "LOOKBACK", "Reply", "SourceApis"]

LOOKBACK = timedelta(hours=24)
"""How far back the lists, listings and trends reach from the clock (a feed shows its latest
FEED_ENTRIES whatever their age)."""
FEED_ENTRIES = 20
HN_LISTS = ("top", "new", "best", "ask", "show", "job")
REDDIT_LISTINGS = ("hot", "new", "top", "rising")
_ROUTES = (
    ("hackernews_list", re.compile(r"^/v0/(?P<name>[a-z]+)stories\.json$")),
    ("hackernews_item", re.compile(r"^/v0/item/(?P<id>[0-9]+)\.json$")),
    ("reddit", re.compile(r"^/r/(?P<sub>[A-Za-z0-9_]+)/(?P<listing>[a-z]+)\.json$")),
    ("feed", re.compile(r"^/feeds/(?P<name>[a-z0-9-]+)\.(?P<kind>xml|atom)$")),
    ("mastodon_statuses", re.compile(r"^/api/v1/trends/statuses$")),
    ("mastodon_tags", re.compile(r"^/api/v1/trends/tags$")),
)
_HASHTAG = re.compile(r"#(\w+)")
_ATOM, _DC = "http://www.w3.org/2005/Atom", "http://purl.org/dc/elements/1.1/"
ET.register_namespace("atom", _ATOM)
ET.register_namespace("dc", _DC)
Query = Mapping[str, list[str]]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(payload, ensure_ascii=False).encode())


NOT_FOUND = Reply.json({"error": "Not Found"}, status=404)


class SourceApis:
    """The week's items in the shapes of the source APIs, as they stood at a given clock."""

    def __init__(self, week: Week, base_url: str = "") -> None:
        self.week = week
        self.base_url = base_url.rstrip("/")
        """Where the feeds say they live (their self links)."""

    @cached_property
    def _by_id(self) -> dict[tuple[str, str], DemoItem]:
        return {item.key: item for item in self.week}

    @cached_property
    def feed_kinds(self) -> dict[str, str]:
        """Each publication's feed format: every other one Atom, the others RSS 2.0."""
        names = self.week.channels("rss")
        return {name: ("atom" if i % 2 else "xml") for i, name in enumerate(names)}

    def feed_urls(self, base_url: str) -> list[str]:
        """The URL of every publication's feed under `base_url`."""
        return [f"{base_url}/feeds/{name}.{kind}" for name, kind in self.feed_kinds.items()]

    def answer(self, path: str, query: Query, headers: Mapping[str, str], clock: datetime) -> Reply:
        """The answer to GET `path` at `clock` (header names in lower case)."""
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match:
                handler: Callable[..., Reply] = getattr(self, f"_{name}")
                return handler(clock=clock, query=query, headers=headers, **match.groupdict())
        return NOT_FOUND

    # -- Hacker News: /v0/<list>stories.json, /v0/item/<id>.json --------------------------

    def _hackernews_list(self, clock: datetime, name: str, **_: object) -> Reply:
        if name not in HN_LISTS:
            return NOT_FOUND
        recent = self.week.published("hackernews", clock, clock - LOOKBACK)
        if name == "best":
            recent = self.week.published("hackernews", clock, clock - 3 * LOOKBACK)
        chosen = {
            "top": sorted(recent, key=lambda i: -_hotness(i, clock)),
            "new": recent,
            "best": sorted(recent, key=lambda i: -(i.score or 0)),
            "ask": [i for i in recent if i.title.startswith("Ask HN")],
            "show": [i for i in recent if i.title.startswith("Show HN")],
            "job": [],
        }[name]
        return Reply.json([int(item.source_id) for item in chosen[:500]])

    def _hackernews_item(self, clock: datetime, id: str, **_: object) -> Reply:
        item = self._by_id.get(("hackernews", id))
        if item is None or item.published_at > clock:
            return Reply.json(None)  # what the API answers for an id it does not know
        story: dict[str, Any] = {
            "by": item.author,
            "descendants": item.comments or 0,
            "id": int(item.source_id),
            "kids": [],
            "score": item.score or 0,
            "time": int(item.published_at.timestamp()),
            "title": item.title,
            "type": "story",
        }
        if item.url:
            story["url"] = item.url
        if item.text:
            story["text"] = html.escape(item.text)
        return Reply.json(story)

    # -- Reddit: /r/<subreddit>/<listing>.json?limit=N ---------------------------------------

    def _reddit(self, clock: datetime, query: Query, sub: str, listing: str, **_: object) -> Reply:
        if listing not in REDDIT_LISTINGS or sub not in self.week.channels("reddit"):
            return Reply.json({"message": "Not Found", "error": 404}, status=404)
        limit = _int(query, "limit", 25, most=100)
        posts = [
            item
            for item in self.week.published("reddit", clock, clock - LOOKBACK)
            if item.channel == sub
        ]
        order: dict[str, Callable[[DemoItem], float]] = {
            "new": lambda i: -i.published_at.timestamp(),
            "hot": lambda i: -_hotness(i, clock),
            "top": lambda i: -(i.score or 0),
            "rising": lambda i: -(i.comments or 0),
        }
        chosen = sorted(posts, key=order[listing])[:limit]
        children = [{"kind": "t3", "data": _reddit_post(item)} for item in chosen]
        data = {"after": None, "before": None, "dist": len(children), "modhash": ""}
        return Reply.json({"kind": "Listing", "data": {**data, "children": children}})

    # -- RSS 2.0 and Atom: /feeds/<publication>.xml|.atom ------------------------------------

    def _feed(
        self, clock: datetime, headers: Mapping[str, str], name: str, kind: str, **_: object
    ) -> Reply:
        if self.feed_kinds.get(name) != kind:
            return NOT_FOUND
        entries = [i for i in self.week.published("rss", clock) if i.channel == name]
        entries = entries[:FEED_ENTRIES]
        updated = entries[0].published_at if entries else clock
        title = name.replace("-", " ").title()
        self_url = f"{self.base_url}/feeds/{name}.{kind}"
        if kind == "atom":
            body, content_type = _atom(title, self_url, updated, entries), "application/atom+xml"
        else:
            body, content_type = _rss(title, self_url, updated, entries), "application/rss+xml"
        etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(updated, usegmt=True)}
        if headers.get("if-none-match") == etag:
            return Reply(304, b"", content_type, validators)
        return Reply(200, body, f"{content_type}; charset=utf-8", validators)

    # -- Mastodon: /api/v1/trends/statuses?limit=N&offset=M, /api/v1/trends/tags -------------

    def _mastodon_statuses(self, clock: datetime, query: Query, **_: object) -> Reply:
        limit, offset = _int(query, "limit", 20, most=40), _int(query, "offset", 0, most=10_000)
        recent = self.week.published("mastodon", clock, clock - LOOKBACK)
        ranked = sorted(recent, key=lambda i: -(i.engagement.get("reblogs", 0) + (i.score or 0)))
        return Reply.json([_status(item) for item in ranked[offset : offset + limit]])

    def _mastodon_tags(self, clock: datetime, query: Query, **_: object) -> Reply:
        limit = _int(query, "limit", 10, most=20)
        today = clock.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = [today - timedelta(days=n) for n in range(7)]
        uses: dict[str, dict[datetime, list[str]]] = defaultdict(lambda: defaultdict(list))
        for item in self.week.published("mastodon", clock, days[-1]):
            day = item.published_at.replace(hour=0, minute=0, second=0, microsecond=0)
            for tag in {t.lower() for t in _HASHTAG.findall(item.text)}:
                uses[tag][day].append(item.author or "")
        recent = [tag for tag in uses if uses[tag].get(days[0]) or uses[tag].get(days[1])]
        recent.sort(key=lambda tag: (-len(uses[tag].get(days[0], [])), tag))
        return Reply.json(
            [
                {
                    "name": tag,
                    "url": f"{self.base_url}/tags/{tag}",
                    "history": [
                        {
                            "day": str(int(day.timestamp())),
                            "uses": str(len(uses[tag].get(day, []))),
                            "accounts": str(len(set(uses[tag].get(day, [])))),
                        }
                        for day in days
                    ],
                    "following": False,
                }
                for tag in recent[:limit]
            ]
        )


def _int(query: Query, name: str, default: int, most: int) -> int:
    """A non-negative integer parameter, capped at `most` (the APIs' own caps)."""
    try:
        value = int(query.get(name, [str(default)])[0])
    except ValueError:
        return default
    return max(0, min(value, most))


def _hotness(item: DemoItem, clock: datetime) -> float:
    """Points decayed by age, as the front pages rank."""
    hours = max((clock - item.published_at).total_seconds() / 3600, 0.0)
    return (item.score or 0) / math.pow(hours + 2, 1.5)


def _reddit_post(item: DemoItem) -> dict[str, Any]:
    sub = item.channel or "all"
    post_id = item.source_id.removeprefix("t3_")
    parts = urlsplit(item.url)
    is_self = parts.path.startswith(f"/r/{sub}/comments/")
    slug = "_".join(re.findall(r"[a-z0-9]+", item.title.lower()))[:50]
    permalink = parts.path if is_self else f"/r/{sub}/comments/{post_id}/{slug}/"
    return {
        "subreddit": sub,
        "subreddit_name_prefixed": f"r/{sub}",
        "id": post_id,
        "name": item.source_id,
        "title": item.title,
        "selftext": item.text,
        "author": item.author,
        "created": item.published_at.timestamp(),
        "created_utc": item.published_at.timestamp(),
        "score": item.score or 0,
        "ups": item.score or 0,
        "upvote_ratio": item.engagement.get("upvote_ratio", 1.0),
        "num_comments": item.comments or 0,
        "is_self": is_self,
        "domain": f"self.{sub}" if is_self else parts.hostname,
        "url": f"https://www.reddit.com{permalink}" if is_self else item.url,
        "permalink": permalink,
        "stickied": False,
        "over_18": False,
    }


def _status(item: DemoItem) -> dict[str, Any]:
    parts = urlsplit(item.url)
    host = parts.hostname or "mastodon.example.org"
    user = (item.author or "someone").split("@")[0]
    tags = sorted({t.lower() for t in _HASHTAG.findall(item.text)})
    account_id = str(int(hashlib.sha256(f"{user}@{host}".encode()).hexdigest()[:12], 16))
    return {
        "id": item.source_id,
        "created_at": item.published_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{host}/users/{user}/statuses/{item.source_id}",
        "url": item.url or None,
        "replies_count": item.comments or 0,
        "reblogs_count": int(item.engagement.get("reblogs", 0)),
        "favourites_count": int(item.engagement.get("favourites", item.score or 0)),
        "content": _status_html(item.text, host),
        "reblog": None,
        "account": {
            "id": account_id,
            "username": user,
            "acct": item.author or user,
            "display_name": user,
            "url": f"https://{host}/@{user}",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": tag, "url": f"https://{host}/tags/{tag}"} for tag in tags],
        "card": None,
    }


def _status_html(text: str, host: str) -> str:
    """A status's text as Mastodon renders it: paragraphs, hashtags as links."""

    def link(match: re.Match[str]) -> str:
        tag = match.group(1)
        return (
            f'<a href="https://{host}/tags/{tag.lower()}" class="mention hashtag" rel="tag">'
            f"#<span>{tag}</span></a>"
        )

    paragraphs = [p for p in text.split("\n\n") if p.strip()] or [""]
    return "".join(
        "<p>" + _HASHTAG.sub(link, html.escape(p, quote=False)).replace("\n", "<br />") + "</p>"
        for p in paragraphs
    )


def _rss(title: str, self_url: str, updated: datetime, entries: list[DemoItem]) -> bytes:
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    for tag, value in (
        ("title", title),
        ("link", self_url),
        ("description", f"{title}: the latest stories"),
        ("language", "en"),
        ("lastBuildDate", format_datetime(updated, usegmt=True)),
        ("ttl", "15"),
    ):
        ET.SubElement(channel, tag).text = value
    ET.SubElement(
        channel, f"{{{_ATOM}}}link", href=self_url, rel="self", type="application/rss+xml"
    )
    for item in entries:
        entry = ET.SubElement(channel, "item")
        ET.SubElement(entry, "title").text = item.title
        ET.SubElement(entry, "link").text = item.url
        ET.SubElement(entry, "guid", isPermaLink="true").text = item.source_id
        ET.SubElement(entry, "pubDate").text = format_datetime(item.published_at, usegmt=True)
        if item.text:
            ET.SubElement(entry, "description").text = item.text
        if item.author:
            ET.SubElement(entry, f"{{{_DC}}}creator").text = item.author
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _atom(title: str, self_url: str, updated: datetime, entries: list[DemoItem]) -> bytes:
    feed = ET.Element(f"{{{_ATOM}}}feed")
    ET.SubElement(feed, f"{{{_ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{_ATOM}}}id").text = self_url
    ET.SubElement(feed, f"{{{_ATOM}}}updated").text = updated.isoformat()
    ET.SubElement(feed, f"{{{_ATOM}}}link", href=self_url, rel="self")
    for item in entries:
        entry = ET.SubElement(feed, f"{{{_ATOM}}}entry")
        ET.SubElement(entry, f"{{{_ATOM}}}title").text = item.title
        ET.SubElement(entry, f"{{{_ATOM}}}link", href=item.url, rel="alternate")
        ET.SubElement(entry, f"{{{_ATOM}}}id").text = item.source_id
        ET.SubElement(entry, f"{{{_ATOM}}}published").text = item.published_at.isoformat()
        ET.SubElement(entry, f"{{{_ATOM}}}updated").text = item.published_at.isoformat()
        if item.author:
            author = ET.SubElement(entry, f"{{{_ATOM}}}author")
            ET.SubElement(author, f"{{{_ATOM}}}name").text = item.author
        if item.text:
            ET.SubElement(entry, f"{{{_ATOM}}}summary").text = item.text
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
