"""The `mastodon` plugin: an instance's trending statuses and, optionally, trending tags."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter

from services.collector.plugins.base import Plugin, PluginContext
from services.collector.plugins.options import flag_option, limit_option
from streams.config import Settings
from streams.messages.records import RawItem

__all__ = ["MastodonPlugin", "plain_text"]

TITLE_CHARS = 120
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class _Card(BaseModel):
    title: str = ""


class _Account(BaseModel):
    acct: str


class _Status(BaseModel):
    id: str
    uri: str
    url: str | None = None
    content: str = ""
    card: _Card | None = None
    account: _Account
    created_at: datetime
    replies_count: int = 0
    reblogs_count: int = 0
    favourites_count: int = 0


class _Day(BaseModel):
    day: int
    uses: int
    accounts: int


class _Tag(BaseModel):
    name: str
    url: str
    history: list[_Day]


_STATUSES = TypeAdapter(list[_Status])
_TAGS = TypeAdapter(list[_Tag])


class MastodonPlugin(Plugin):
    """Options: `include_tags` (default MASTODON_INCLUDE_TAGS), `limit` (default: every item)."""

    name = "mastodon"
    frequency = "normal"
    option_names: ClassVar[frozenset[str]] = frozenset({"include_tags", "limit"})

    def read_options(
        self, options: Mapping[str, Any], settings: Settings
    ) -> tuple[int | None, bool]:
        """The most items to keep, and whether trending tags are collected too."""
        limit = limit_option("mastodon", options.get("limit"))
        include_tags = flag_option(
            "mastodon", "include_tags", options.get("include_tags"), settings.mastodon_include_tags
        )
        return limit, include_tags

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        limit, include_tags = self.read_options(options, ctx.settings)
        items = await _statuses(ctx)
        if include_tags and (limit is None or len(items) < limit):
            items += await _tags(ctx)
        for item in items[:limit]:
            yield item


async def _statuses(ctx: PluginContext) -> list[RawItem]:
    url = f"{ctx.settings.mastodon_base_url}/api/v1/trends/statuses"
    params = {"limit": ctx.settings.mastodon_limit}
    statuses = await ctx.http.get_parsed(url, _STATUSES, params=params)
    items = (_status_item(status, ctx.request_id) for status in statuses)
    return [item for item in items if item is not None]


async def _tags(ctx: PluginContext) -> list[RawItem]:
    url = f"{ctx.settings.mastodon_base_url}/api/v1/trends/tags"
    tags = await ctx.http.get_parsed(url, _TAGS)
    return [_tag_item(tag, ctx.request_id) for tag in tags if tag.history]


def _status_item(status: _Status, request_id: str) -> RawItem | None:
    """The status as a RawItem; None if it has neither a card title nor text."""
    text = plain_text(status.content)
    title = status.card.title.strip() if status.card else ""
    title = title or " ".join(text.split())[:TITLE_CHARS]
    if not title:
        return None
    return RawItem(
        source="mastodon",
        source_id=status.id,
        title=title,
        url=status.url or status.uri,
        text=text,
        author=status.account.acct,
        published_at=status.created_at,
        score=status.favourites_count,
        comments=status.replies_count,
        engagement={"reblogs": status.reblogs_count, "favourites": status.favourites_count},
        request_id=request_id,
    )


def _tag_item(tag: _Tag, request_id: str) -> RawItem:
    today = tag.history[0]
    return RawItem(
        source="mastodon",
        source_id=f"tag:{tag.name}:{today.day}",
        title=f"#{tag.name}",
        url=tag.url,
        published_at=datetime.fromtimestamp(today.day, UTC),
        score=today.uses,
        engagement={"accounts": today.accounts, "uses": today.uses},
        request_id=request_id,
    )


def plain_text(content: str) -> str:
    """The text of a status's HTML: tags dropped, entities decoded, one line per paragraph."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
