"""The `hackernews` plugin: stories of the Hacker News lists (top, new, best...) from its API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, StrictInt, TypeAdapter

from services.collector.plugins.base import Plugin, PluginContext, PluginError
from services.collector.plugins.options import limit_option, names_option
from streams.config import Settings
from streams.messages.records import RawItem

__all__ = ["HackerNewsPlugin"]

T = TypeVar("T")
LISTS = frozenset({"top", "new", "best", "ask", "show", "job"})
ITEM_PAGE = "https://news.ycombinator.com/item?id="


class _Item(BaseModel):
    """An item of the API; only live stories (with a title) become RawItems."""

    id: int
    type: str = ""
    deleted: bool = False
    dead: bool = False
    title: str | None = None
    url: str | None = None
    text: str = ""
    by: str | None = None
    time: datetime | None = None
    score: int | None = None
    descendants: int | None = None

    @property
    def is_live_story(self) -> bool:
        """A story neither deleted nor dead."""
        return self.type == "story" and not (self.deleted or self.dead)


_IDS = TypeAdapter(list[StrictInt])
_ITEM: TypeAdapter[_Item | None] = TypeAdapter(_Item | None)


class HackerNewsPlugin(Plugin):
    """Options: `lists` (default HACKERNEWS_LISTS), `limit` (default HACKERNEWS_LIMIT)."""

    name = "hackernews"
    frequency = "high"
    option_names: ClassVar[frozenset[str]] = frozenset({"lists", "limit"})

    def read_options(
        self, options: Mapping[str, Any], settings: Settings
    ) -> tuple[tuple[str, ...], int]:
        """The lists to read and the most stories to fetch."""
        lists = names_option(
            "hackernews",
            "lists",
            options.get("lists"),
            settings.hackernews_lists,
            valid=LISTS.__contains__,
            expected=f"names among {', '.join(sorted(LISTS))}",
        )
        limit = limit_option("hackernews", options.get("limit"), settings.hackernews_limit)
        assert limit is not None  # a default is given
        return lists, limit

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        lists, limit = self.read_options(options, ctx.settings)
        ids = await _story_ids(ctx, lists, limit)
        stories = await _gather(_story(ctx, story_id) for story_id in ids)
        for story in stories:
            if story is not None:
                yield story


async def _story_ids(ctx: PluginContext, lists: tuple[str, ...], limit: int) -> list[int]:
    """The ids of every list, merged in order without duplicates, at most `limit`."""
    ids: dict[int, None] = {}
    for name in lists:
        url = f"{ctx.settings.hackernews_base_url}/v0/{name}stories.json"
        listed = await ctx.http.get_parsed(url, _IDS)
        ids.update(dict.fromkeys(listed))
        if len(ids) >= limit:
            break
    return list(ids)[:limit]


async def _story(ctx: PluginContext, story_id: int) -> RawItem | None:
    """The item as a RawItem; None for a missing, deleted or dead item or one not a story."""
    url = f"{ctx.settings.hackernews_base_url}/v0/item/{story_id}.json"
    item = await ctx.http.get_parsed(url, _ITEM)
    if item is None or not item.is_live_story:
        return None
    if item.title is None:
        raise PluginError(f"hackernews: unexpected payload from {url}: the story has no title")
    return _raw_item(item, item.title, ctx.request_id)


def _raw_item(story: _Item, title: str, request_id: str) -> RawItem:
    return RawItem(
        source="hackernews",
        source_id=str(story.id),
        title=title,
        url=story.url or f"{ITEM_PAGE}{story.id}",
        text=story.text,
        author=story.by,
        published_at=story.time,
        score=story.score,
        comments=story.descendants,
        request_id=request_id,
    )


async def _gather(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run the calls at once; on the first failure, cancel the others."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
