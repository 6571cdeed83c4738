"""The processor's agents: raw items from items.raw, stored in batches."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from services.processor.app import app
from services.processor.store import ItemStore
from services.processor.topics import items_topic, reports_topic
from streams.db import create_pool
from streams.decoding import decode
from streams.logs import event_context
from streams.records import ProcessingReport, RawItem

__all__ = ["reports", "store_items"]

log = logging.getLogger(__name__)
_store: ItemStore | None = None


async def _item_store() -> ItemStore:
    global _store  # noqa: PLW0603 - one pool per worker process, opened on first use
    if _store is None:
        _store = ItemStore(await create_pool(app.settings))
    return _store


def reports(items: list[RawItem], new: list[str | None]) -> list[ProcessingReport]:
    """One report per request with items in the batch: how many were handled, how many new."""
    handled = Counter(item.request_id for item in items if item.request_id)
    fresh = Counter(request_id for request_id in new if request_id)
    return [
        ProcessingReport(request_id=request_id, items_handled=count, items_new=fresh[request_id])
        for request_id, count in handled.items()
    ]


@app.agent(items_topic)
async def store_items(stream: Any) -> None:
    """Store each batch of raw items (exact duplicates by source and id are skipped)."""
    settings = app.settings
    batches = stream.take_events(
        settings.processor_batch_size, within=settings.processor_batch_within_s
    )
    async for events in batches:
        items = [item for item in (decode(event, RawItem) for event in events) if item]
        new = await (await _item_store()).save(items)
        for report in reports(items, new):
            await reports_topic.send(key=report.request_id, value=report)
        log.info(
            "items stored batch=%d new=%d", len(events), len(new), extra=event_context(events[-1])
        )
