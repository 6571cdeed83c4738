"""The `reddit` plugin: posts of subreddit listings (hot, new, top, rising) from the JSON API."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, TypeAdapter

from services.collector.plugins.base import Plugin, PluginContext
from services.collector.plugins.options import limit_option, names_option
from streams.config import Settings
from streams.messages.records import RawItem

__all__ = ["RedditPlugin"]

LISTINGS = frozenset({"hot", "new", "top", "rising"})
SITE = "https://www.reddit.com"
_SUBREDDIT = re.compile(r"^[A-Za-z0-9_+]{1,100}$")


class _Post(BaseModel):
    name: str
    title: str
    url: str | None = None
    is_self: bool = False
    permalink: str
    selftext: str = ""
    author: str | None = None
    created_utc: datetime
    score: int | None = None
    num_comments: int | None = None
    upvote_ratio: float | None = None
    stickied: bool = False


class _Child(BaseModel):
    kind: Literal["t3"]
    data: _Post


class _Page(BaseModel):
    children: list[_Child]


class _Listing(BaseModel):
    kind: Literal["Listing"]
    data: _Page


_LISTING = TypeAdapter(_Listing)


class RedditPlugin(Plugin):
    """Options: `subreddits`, `listings` (default REDDIT_SUBREDDITS, REDDIT_LISTINGS), `limit`."""

    name = "reddit"
    frequency = "high"
    option_names: ClassVar[frozenset[str]] = frozenset({"subreddits", "listings", "limit"})

    def read_options(
        self, options: Mapping[str, Any], settings: Settings
    ) -> tuple[list[tuple[str, str]], int | None]:
        """Every (subreddit, listing) to read, in order, and the most posts to keep."""
        return _pages(options, settings), limit_option("reddit", options.get("limit"))

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        pages, limit = self.read_options(options, ctx.settings)
        seen: set[str] = set()
        for subreddit, listing in pages:
            for post in await _posts(ctx, subreddit, listing):
                if len(seen) == limit:
                    return
                if post.name not in seen:
                    seen.add(post.name)
                    yield _raw_item(post, ctx.request_id)


def _pages(options: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
    """Every (subreddit, listing) to read, in order."""
    subreddits = names_option(
        "reddit",
        "subreddits",
        options.get("subreddits"),
        settings.reddit_subreddits,
        valid=lambda name: bool(_SUBREDDIT.match(name)),
        expected="subreddit names",
    )
    listings = names_option(
        "reddit",
        "listings",
        options.get("listings"),
        settings.reddit_listings,
        valid=LISTINGS.__contains__,
        expected=f"listings among {', '.join(sorted(LISTINGS))}",
    )
    return list(itertools.product(subreddits, listings))


async def _posts(ctx: PluginContext, subreddit: str, listing: str) -> list[_Post]:
    """The posts of one listing page, stickied ones left out."""
    url = f"{ctx.settings.reddit_base_url}/r/{subreddit}/{listing}.json"
    params = {"limit": ctx.settings.reddit_limit, "raw_json": 1}
    page = await ctx.http.get_parsed(url, _LISTING, params=params)
    return [child.data for child in page.data.children if not child.data.stickied]


def _raw_item(post: _Post, request_id: str) -> RawItem:
    engagement = {} if post.upvote_ratio is None else {"upvote_ratio": post.upvote_ratio}
    return RawItem(
        source="reddit",
        source_id=post.name,
        title=post.title,
        url=f"{SITE}{post.permalink}" if post.is_self or not post.url else post.url,
        text=post.selftext,
        author=post.author,
        published_at=post.created_utc,
        score=post.score,
        comments=post.num_comments,
        engagement=engagement,
        request_id=request_id,
    )
