"""Record factories with defaults, for unit and integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from streams.messages.records import CollectRequest, RawItem


def make_request(**overrides: Any) -> CollectRequest:
    """A valid CollectRequest for the `file` plugin, overridable field by field."""
    fields: dict[str, Any] = {
        "plugin": "file",
        "request_id": uuid.uuid4().hex,
        "options": {"path": "tests/fixtures/items.jsonl"},
        "dry_run": True,
        **overrides,
    }
    return CollectRequest(**fields)


def make_item(**overrides: Any) -> RawItem:
    """A valid RawItem with a unique source id."""
    fields: dict[str, Any] = {
        "source": "hackernews",
        "source_id": uuid.uuid4().hex[:10],
        "title": "A title worth trending",
        "url": "https://example.org/item",
        "score": 10,
        "comments": 2,
        **overrides,
    }
    return RawItem(**fields)
