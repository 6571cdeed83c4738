"""The collector's agents: consume collect requests (bulk and priority), answer on results."""

from __future__ import annotations

import logging
from typing import Any

from services.collector.app import app
from services.collector.plugins import default_registry
from services.collector.runner import RequestRunner
from services.collector.topics import items_topic, priority_topic, requests_topic, results_topic
from streams.logs import event_context
from streams.records import RawItem, RequestStatus

__all__ = ["collect", "collect_priority", "runner"]

log = logging.getLogger(__name__)


async def _publish_status(status: RequestStatus) -> None:
    await results_topic.send(key=status.request_id, value=status)


async def _publish_item(item: RawItem) -> None:
    await items_topic.send(key=item.key, value=item)


runner = RequestRunner(default_registry(), app.settings, _publish_status, _publish_item)


def fallback_request_id(message: Any) -> str:
    """The id a malformed trigger is answered under: its key, or where it was read."""
    key = message.key
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    return key or f"invalid-{message.topic}-{message.partition}-{message.offset}"


async def _consume(stream: Any) -> None:
    async for event in stream.events():
        log.debug("request received", extra=event_context(event))
        await runner.handle(event.value, fallback_request_id(event.message))


@app.agent(requests_topic)
async def collect(stream: Any) -> None:
    """Bulk requests from collect.requests."""
    await _consume(stream)


@app.agent(priority_topic)
async def collect_priority(stream: Any) -> None:
    """Urgent requests from collect.requests.priority, never queued behind bulk ones."""
    await _consume(stream)
