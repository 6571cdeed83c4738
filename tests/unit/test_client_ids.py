"""The client refuses a request id outside the rule before it opens any connection."""

from __future__ import annotations

import pytest

from streams.config import load_settings
from streams.exceptions import RecordValidationError
from streams.requests.client import RequestHandle, request_collection, request_maintenance

UNREACHABLE = load_settings(
    kafka_bootstrap_servers="127.0.0.1:1", redis_url="redis://127.0.0.1:1/0"
)


@pytest.mark.parametrize("request_id", ["a/b", "a\nb", "a\x00b", "x" * 10_000, ".."])
async def test_bad_ids_raise_before_anything_is_sent(request_id: str) -> None:
    with pytest.raises(RecordValidationError, match="request id: expected 1 to 200"):
        RequestHandle(request_id, UNREACHABLE)
    with pytest.raises(RecordValidationError, match="request_id: expected 1 to 200"):
        await request_collection("file", request_id=request_id, settings=UNREACHABLE)
    with pytest.raises(RecordValidationError, match="request_id: expected 1 to 200"):
        await request_maintenance("health", request_id=request_id, settings=UNREACHABLE)


async def test_malformed_options_raise_before_anything_is_sent() -> None:
    with pytest.raises(RecordValidationError, match=r"options\.limit: must be a whole number"):
        await request_collection("file", options={"limit": -1}, settings=UNREACHABLE)
    with pytest.raises(RecordValidationError, match="NUL"):
        await request_maintenance("cleanup", options={"x": "\x00"}, settings=UNREACHABLE)
