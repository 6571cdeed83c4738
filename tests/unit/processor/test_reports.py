"""Processing reports: one per request in a batch, with handled and new counts."""

from __future__ import annotations

from services.processor.agents import reports
from tests.factories import make_item


def test_one_report_per_request_with_its_counts() -> None:
    items = [
        make_item(request_id="a"),
        make_item(request_id="a"),
        make_item(request_id="b"),
        make_item(request_id=None),
    ]
    made = {r.request_id: (r.items_handled, r.items_new) for r in reports(items, ["a", None])}
    assert made == {"a": (2, 1), "b": (1, 0)}
