"""The `rss` plugin: entries of RSS 2.0 and Atom feeds, fetched conditionally (ETag, date)."""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser  # type: ignore[import-untyped]
import httpx
from redis.typing import EncodableT, FieldT

from services.collector.plugins.base import Plugin, PluginContext, PluginError
from services.collector.plugins.options import limit_option, names_option
from streams.config import Settings
from streams.messages.records import RawItem

__all__ = ["RssPlugin"]

VALIDATORS_TTL_S = 30 * 86400
"""How long a feed's ETag and Last-Modified are kept after its last change."""
_TAG = re.compile(r"<[^>]*>")


class RssPlugin(Plugin):
    """Options: `feeds` (default RSS_FEEDS), `limit` (default: every entry)."""

    name = "rss"
    frequency = "normal"
    option_names: ClassVar[frozenset[str]] = frozenset({"feeds", "limit"})

    def read_options(
        self, options: Mapping[str, Any], settings: Settings
    ) -> tuple[tuple[str, ...], int | None]:
        """The feed URLs to read and the most entries to keep."""
        feeds = names_option(
            "rss",
            "feeds",
            options.get("feeds"),
            settings.rss_feeds,
            valid=_is_http,
            expected="a list of http(s) URLs",
        )
        return feeds, limit_option("rss", options.get("limit"))

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        feeds, limit = self.read_options(options, ctx.settings)
        count = 0
        for url in feeds:
            fetched = await _fetch(ctx, url)
            for item in fetched.items:
                if count == limit:
                    return
                count += 1
                yield item
            await fetched.validators.save()


class _Validators:
    """A feed's ETag and Last-Modified, kept in Redis between runs (not in a dry run)."""

    def __init__(self, ctx: PluginContext, url: str) -> None:
        self._redis = None if ctx.dry_run else ctx.redis
        self._key = f"{ctx.settings.namespace}rss:validators:{url}"
        self.fresh: dict[FieldT, EncodableT] | None = None
        """The validators of this run's 200 response; None after a 304."""

    async def headers(self) -> dict[str, str]:
        """The conditional request headers from the last run's validators."""
        if self._redis is None:
            return {}
        stored = await self._redis.hgetall(self._key)
        known = {_text(field): _text(value) for field, value in stored.items()}
        names = {"etag": "If-None-Match", "last_modified": "If-Modified-Since"}
        return {header: known[field] for field, header in names.items() if known.get(field)}

    def remember(self, headers: Mapping[str, str]) -> None:
        """Keep the validators of a 200 response, to save once its entries are delivered."""
        fields = {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
        self.fresh = {field: value for field, value in fields.items() if value}

    async def save(self) -> None:
        """Replace the stored validators by those of this run's 200 response."""
        if self._redis is None or self.fresh is None:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            if self.fresh:
                pipe.hset(self._key, mapping=self.fresh)
                pipe.expire(self._key, VALIDATORS_TTL_S)
            await pipe.execute()


@dataclass(frozen=True)
class _Fetched:
    """One feed's items and the validators to save once they are delivered."""

    items: list[RawItem]
    validators: _Validators


async def _fetch(ctx: PluginContext, url: str) -> _Fetched:
    validators = _Validators(ctx, url)
    response = await ctx.http.get(url, headers=await validators.headers())
    if response.status_code == 304:
        return _Fetched([], validators)
    validators.remember(response.headers)
    return _Fetched(_parse(url, response, ctx.request_id), validators)


def _parse(url: str, response: httpx.Response, request_id: str) -> list[RawItem]:
    kind = response.headers.get("content-type")
    feed = feedparser.parse(
        response.content, response_headers={"content-type": kind} if kind else {}
    )
    if not feed.entries and (feed.bozo or not feed.version):
        reason = feed.get("bozo_exception") or "no RSS or Atom document found"
        raise PluginError(f"rss: {url} is not a readable feed: {reason}")
    items = [_raw_item(entry, request_id) for entry in feed.entries]
    return [item for item in items if item is not None]


def _raw_item(entry: Mapping[str, Any], request_id: str) -> RawItem | None:
    """The entry as a RawItem; None for an entry without a title."""
    title = _title(entry)
    if not title:
        return None
    return RawItem(
        source="rss",
        source_id=_entry_id(entry, title),
        title=title,
        url=entry.get("link"),
        text=_entry_text(entry),
        author=entry.get("author"),
        published_at=_published(entry),
        request_id=request_id,
    )


def _title(entry: Mapping[str, Any]) -> str:
    """The entry's title as plain text (an Atom title may be HTML)."""
    title = str(entry.get("title", ""))
    if "html" in entry.get("title_detail", {}).get("type", ""):
        title = html.unescape(_TAG.sub("", title))
    return " ".join(title.split())


def _entry_id(entry: Mapping[str, Any], title: str) -> str:
    given = entry.get("id") or entry.get("link")
    return str(given) if given else hashlib.sha256(title.encode()).hexdigest()


def _entry_text(entry: Mapping[str, Any]) -> str:
    if entry.get("summary"):
        return str(entry["summary"])
    content = entry.get("content") or [{}]
    return str(content[0].get("value", ""))


def _published(entry: Mapping[str, Any]) -> datetime | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_http(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))
