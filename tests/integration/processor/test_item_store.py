"""Raw items in PostgreSQL: which are new for their request, however often they are delivered."""

from __future__ import annotations

import asyncpg

from services.processor.store import ItemStore
from streams.messages.records import RawItem
from tests.factories import make_item


def _items(request_id: str | None, *numbers: int) -> list[RawItem]:
    return [make_item(source_id=f"item-{n}", request_id=request_id) for n in numbers]


def _keys(*numbers: int) -> set[str]:
    return {item.key for item in _items(None, *numbers)}


async def test_an_item_is_new_for_the_request_that_first_stored_it_on_every_redelivery(
    pool: asyncpg.Pool,
) -> None:
    store = ItemStore(pool)
    assert await store.save(_items("r1", 1, 2, 3)) == _keys(1, 2, 3)
    assert await store.save(_items("r1", 1, 2, 3)) == _keys(1, 2, 3)  # redelivered after a crash
    assert await store.save(_items("r1", 2)) == _keys(2)
    assert await store.save(_items("r2", 1, 2, 3, 4)) == _keys(4)  # 1-3 were r1's first
    assert await store.save([*_items("r1", 1, 4), *_items("r2", 4)]) == _keys(1, 4)

    assert await store.save(_items(None, 5)) == _keys(5)  # no request: new when stored now
    assert await store.save(_items(None, 5)) == set()
    rows = await pool.fetch("SELECT source_id, request_id FROM items ORDER BY source_id")
    assert [(row["source_id"], row["request_id"]) for row in rows] == [
        ("item-1", "r1"),
        ("item-2", "r1"),
        ("item-3", "r1"),
        ("item-4", "r2"),
        ("item-5", None),
    ]
