"""The demo week: items of four sources over one week, moved in time so that the week ends now."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["SOURCES", "WEEK_FILE", "DemoItem", "Week", "hour_of"]

WEEK_FILE = Path(__file__).resolve().with_name("week.jsonl")
"""The bundled week: 447 items of hackernews, reddit, rss and mastodon from 16 to 22 November
2026, with real stories (steady ones, bursts, look-alike pairs) and one-off noise. Derived from
the labelled corpus of tests/fixtures/corpus (labels left out; each Reddit post given its
subreddit and each feed entry its publication as `channel`)."""
SOURCES = ("hackernews", "reddit", "rss", "mastodon")
HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    """The start of the hour `moment` falls in (UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DemoItem:
    """One item of the week, as its source would publish it."""

    source: str
    source_id: str
    title: str
    published_at: datetime
    url: str = ""
    text: str = ""
    author: str | None = None
    score: int | None = None
    comments: int | None = None
    channel: str | None = None
    """Where the source files it: the subreddit of a Reddit post, the publication of a feed
    entry; None for the others."""
    engagement: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DemoItem:
        """An item from one line of the week's file."""
        published = datetime.fromisoformat(str(data["published_at"]).replace("Z", "+00:00"))
        return cls(
            source=str(data["source"]),
            source_id=str(data["source_id"]),
            title=str(data["title"]),
            published_at=published.astimezone(UTC),
            url=str(data.get("url") or ""),
            text=str(data.get("text") or ""),
            author=data.get("author"),
            score=data.get("score"),
            comments=data.get("comments"),
            channel=data.get("channel"),
            engagement=dict(data.get("engagement") or {}),
        )

    @property
    def key(self) -> tuple[str, str]:
        """(source, source_id): how PostgreSQL knows the item."""
        return self.source, self.source_id


@dataclass(frozen=True)
class Week:
    """The items of the week, oldest first."""

    items: tuple[DemoItem, ...]

    @classmethod
    def load(cls, path: Path = WEEK_FILE) -> Week:
        """The week from a JSONL file (one item a line)."""
        with path.open(encoding="utf-8") as lines:
            return cls.of(DemoItem.from_json(json.loads(line)) for line in lines if line.strip())

    @classmethod
    def of(cls, items: Iterable[DemoItem]) -> Week:
        """A week of these items, sorted by time."""
        found = tuple(sorted(items, key=lambda item: (item.published_at, item.key)))
        if not found:
            raise ValueError("a demo week needs at least one item")
        return cls(found)

    @property
    def start(self) -> datetime:
        """The time of the first item."""
        return self.items[0].published_at

    @property
    def end(self) -> datetime:
        """The time of the last item."""
        return self.items[-1].published_at

    def ending_before(self, now: datetime) -> Week:
        """The same week moved by whole hours so that its last item falls in the hour before
        `now`'s (hourly buckets, and so topics and trends, stay what they were)."""
        return self.moved(hour_of(now) - HOUR - hour_of(self.end))

    def moved(self, shift: timedelta) -> Week:
        """The same week, every item `shift` later."""
        return Week(tuple(replace(item, published_at=item.published_at + shift) for item in self))

    def published(
        self, source: str, until: datetime, since: datetime | None = None
    ) -> list[DemoItem]:
        """The items of `source` published in (since, until], newest first."""
        return [
            item
            for item in reversed(self.items)
            if item.source == source
            and item.published_at <= until
            and (since is None or item.published_at > since)
        ]

    def channels(self, source: str) -> list[str]:
        """The channels (subreddits, publications) of a source, sorted."""
        return sorted({item.channel for item in self if item.source == source and item.channel})

    def find(self, source: str, source_id: str) -> DemoItem | None:
        """One item by its key."""
        return next((item for item in self if item.key == (source, source_id)), None)

    def keys(self) -> list[tuple[str, str]]:
        """(source, source_id) of every item."""
        return [item.key for item in self]

    def __iter__(self) -> Iterator[DemoItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
