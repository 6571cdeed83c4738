"""Records through the real broker: round trips, plain JSON triggers, invalid payloads."""

from __future__ import annotations

import json

import pytest

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import CollectRequest, RawItem
from streams.messages.topics import COLLECT_REQUESTS, ITEMS_RAW, ensure_topics
from tests.factories import make_item, make_request
from tests.support.kafka import produce, read_until


async def test_records_round_trip_through_the_broker(test_settings: Settings) -> None:
    await ensure_topics(test_settings)
    request, item = make_request(priority=3), make_item(engagement={"upvote_ratio": 0.9})
    await produce(test_settings, COLLECT_REQUESTS, request.dumps(), request.request_id.encode())
    await produce(test_settings, ITEMS_RAW, item.dumps(), item.key.encode())
    (request_bytes,) = await read_until(test_settings, COLLECT_REQUESTS, lambda v: len(v) >= 1)
    (item_bytes,) = await read_until(test_settings, ITEMS_RAW, lambda v: len(v) >= 1)
    assert CollectRequest.parse(request_bytes) == request
    assert RawItem.parse(item_bytes) == item


async def test_plain_and_invalid_payloads_from_any_client(test_settings: Settings) -> None:
    await ensure_topics(test_settings)
    plain = json.dumps({"plugin": "hackernews", "request_id": "plain-1"}).encode()
    await produce(test_settings, COLLECT_REQUESTS, plain)
    await produce(test_settings, COLLECT_REQUESTS, b'{"plugin": 42}')
    values = await read_until(test_settings, COLLECT_REQUESTS, lambda v: len(v) >= 2)
    received_plain = next(value for value in values if b"plain-1" in value)
    received_bad = next(value for value in values if b"42" in value)
    request = CollectRequest.parse(received_plain)
    assert (request.request_id, request.plugin, request.dry_run) == ("plain-1", "hackernews", False)
    with pytest.raises(RecordValidationError, match="plugin: Input should be a valid string"):
        CollectRequest.parse(received_bad)
