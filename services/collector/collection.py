"""One plugin run: options applied (limit, since, sample size), items filtered and published."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from services.collector.plugins import Plugin, PluginContext, PluginError
from services.collector.plugins.options import limit_option
from streams.messages.records import CollectRequest, RawItem
from streams.messages.topics import MessageTooLargeError

__all__ = ["CONFIRM_EVERY", "Collection", "Confirmed", "ItemSink", "Seen"]

ItemSink = Callable[[RawItem], Awaitable[Awaitable[object]]]
"""Sends an item; returns once the producer holds it, with what the broker's acknowledgement
completes (Faust's `topic.send`)."""
Confirmed = Callable[[list[RawItem]], Awaitable[None]]
"""Told the items the broker acknowledged."""
CONFIRM_EVERY = 100
"""Items sent before the run waits for the broker's acknowledgements."""
_DATETIME = TypeAdapter(datetime)


class Seen(Protocol):
    """Items published recently (Redis: SeenItems), not to be published again."""

    @property
    def enabled(self) -> bool:
        """False when nothing is remembered (every item is published)."""

    async def seen(self, item: RawItem) -> bool:
        """True when the item was published recently."""

    async def mark(self, item: RawItem) -> None:
        """Remember a published item."""


def _since(options: Mapping[str, Any]) -> datetime | None:
    value = options.get("since")
    if value is None:
        return None
    try:
        since = _DATETIME.validate_python(value)
    except ValidationError:
        raise PluginError(f"option 'since' must be an ISO 8601 time, got {value!r}") from None
    if since.tzinfo is None:
        raise PluginError(f"option 'since' must carry a timezone, got {value!r}")
    return since


@dataclass
class Collection:
    """Counts and samples of one run; `run` drives the plugin and fills them.

    An item counts as published (told to `confirmed`, then marked seen) only once the broker
    acknowledged it: an item lost with the worker is neither seen nor counted, and a re-run
    publishes it again; an item marked seen was always told to `confirmed` first.
    """

    plugin: Plugin
    request: CollectRequest
    publish: ItemSink
    seen: Seen
    confirmed: Confirmed
    sample_size: int = 5
    max_item_bytes: int | None = None
    """The largest item published (the processor's MAX_REQUEST_BYTES); a larger one fails the
    run at once (MessageTooLargeError). None: no limit."""
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("collected", "published", "seen", "too_old"), 0)
    )
    sample: list[dict[str, Any]] = field(default_factory=list)
    _sent: list[tuple[RawItem, Awaitable[object]]] = field(
        default_factory=list, init=False, repr=False
    )
    _sent_keys: set[str] = field(default_factory=set, init=False, repr=False)

    async def run(self, ctx: PluginContext) -> dict[str, Any]:
        """Collect until the plugin ends or `limit` items were kept; return the run's result."""
        options = self.plugin.options(self.request.options)
        limit = limit_option(self.plugin.name, options.get("limit"))
        since = _since(options)
        size = options.get("sample_size", self.sample_size)
        async with aclosing(self.plugin.collect(ctx, options)) as items:  # type: ignore[type-var]
            async for item in items:
                if since and item.published_at and item.published_at < since:
                    self.counts["too_old"] += 1
                    continue
                await self._keep(item, size)
                if limit is not None and self.counts["collected"] >= limit:
                    break
        await self._confirm()
        return self._result()

    async def _keep(self, item: RawItem, sample_size: int) -> None:
        self.counts["collected"] += 1
        if self.request.dry_run:
            if len(self.sample) < sample_size:
                self.sample.append(item.asdict())
        elif await self._seen(item):
            self.counts["seen"] += 1
        else:
            self._check_size(item)
            self._sent.append((item, await self.publish(item)))
            self._sent_keys.add(item.key)
            self.counts["published"] += 1
            if len(self._sent) >= CONFIRM_EVERY:
                await self._confirm()

    def _check_size(self, item: RawItem) -> None:
        size = len(item.dumps())
        if self.max_item_bytes is not None and size > self.max_item_bytes:
            raise MessageTooLargeError(
                f"item {item.key} is {size:,} bytes; the processor takes items of at most "
                f"{self.max_item_bytes:,} (MAX_REQUEST_BYTES)"
            )

    async def _seen(self, item: RawItem) -> bool:
        if self.seen.enabled and item.key in self._sent_keys:
            return True  # sent earlier in this run, its acknowledgement still awaited
        return await self.seen.seen(item)

    async def _confirm(self) -> None:
        """Wait for the broker to acknowledge the items sent, then tell `confirmed`, then mark
        them seen (never before the acknowledgement: an item the broker may not have is not
        published yet; never seen before confirmed: a worker killed between the two would
        leave seen items that a re-run skips and its request never waits for)."""
        sent, self._sent = self._sent, []
        if not sent:
            return
        await asyncio.gather(*(acknowledged for _, acknowledged in sent))
        items = [item for item, _ in sent]
        await self.confirmed(items)
        for item in items:
            await self.seen.mark(item)

    def _result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "plugin": self.plugin.name,
            "dry_run": self.request.dry_run,
            "items_collected": self.counts["collected"],
            "items_published": self.counts["published"],
            "items_already_seen": self.counts["seen"],
            "items_older_than_since": self.counts["too_old"],
        }
        if self.request.dry_run:
            result["sample"] = self.sample
        return result
