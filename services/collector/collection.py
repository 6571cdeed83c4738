"""One plugin run: options applied (limit, since, sample size), items filtered and published."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.collector.exceptions import RequestRevokedError
from services.collector.plugins import Plugin, PluginContext, PluginError
from services.collector.plugins.options import limit_option
from services.collector.seen import SeenItems
from streams.records import CollectRequest, RawItem

__all__ = ["Collection", "ItemSink"]

ItemSink = Callable[[RawItem], Awaitable[None]]
REVOCATION_CHECK_EVERY = 20
_DATETIME = TypeAdapter(datetime)


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
    """Counts and samples of one run; `run` drives the plugin and fills them."""

    plugin: Plugin
    request: CollectRequest
    publish: ItemSink
    seen: SeenItems | None = None
    is_revoked: Callable[[], Awaitable[bool]] | None = None
    sample_size: int = 5
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("collected", "published", "seen", "too_old"), 0)
    )
    sample: list[dict[str, Any]] = field(default_factory=list)

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
                await self._check_revoked()
                if limit is not None and self.counts["collected"] >= limit:
                    break
        return self._result()

    async def _keep(self, item: RawItem, sample_size: int) -> None:
        self.counts["collected"] += 1
        if self.request.dry_run:
            if len(self.sample) < sample_size:
                self.sample.append(item.asdict())
        elif self.seen is not None and await self.seen.seen(item):
            self.counts["seen"] += 1
        else:
            await self.publish(item)
            self.counts["published"] += 1
            if self.seen is not None:
                await self.seen.mark(item)

    async def _check_revoked(self) -> None:
        due = self.counts["collected"] % REVOCATION_CHECK_EVERY == 0
        if self.is_revoked and due and await self.is_revoked():
            raise RequestRevokedError(f"request {self.request.request_id} was revoked")

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
