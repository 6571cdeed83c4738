"""Processing reports: one per request in a batch, naming its items, with handled and new counts."""

from __future__ import annotations

from services.processor.agents import reports
from tests.factories import make_item


def test_one_report_per_request_naming_its_items() -> None:
    items = [
        make_item(request_id="a"),
        make_item(request_id="a"),
        make_item(request_id="b"),
        make_item(request_id=None),
    ]
    new = {items[0].key}
    made = {
        r.request_id: (r.items_handled, r.items_new, r.keys, r.new_keys, r.stage)
        for r in reports("cluster", ((item.key, item.request_id) for item in items), new)
    }
    assert made == {
        "a": (2, 1, [items[0].key, items[1].key], [items[0].key], "cluster"),
        "b": (1, 0, [items[2].key], [], "cluster"),
    }
