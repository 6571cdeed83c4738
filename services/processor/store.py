"""Raw items in PostgreSQL, stored idempotently (a redelivered item changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from streams.messages.items import ROW_COLUMNS, content_hash, item_row, key_sql, split_key
from streams.messages.records import RawItem

__all__ = ["ItemStore"]

_PARAMS = ", ".join(
    f"${n}::{'text' if kind == 'jsonb' else kind}[]" for n, (_, kind) in enumerate(ROW_COLUMNS, 1)
)
_NAMES = ", ".join(column for column, _ in ROW_COLUMNS)
_VALUES = ", ".join(
    f"{column}::jsonb" if kind == "jsonb" else column for column, kind in ROW_COLUMNS
)
_INSERT = f"""
WITH batch AS (
    SELECT * FROM unnest({_PARAMS}) AS batch({_NAMES})
), stored AS (
    INSERT INTO items ({_NAMES})
    SELECT {_VALUES}
    FROM batch
    ON CONFLICT (source, source_id) DO NOTHING
    RETURNING source, source_id
)
SELECT {key_sql()} AS key FROM stored
UNION
SELECT {key_sql("items")} FROM items
JOIN batch ON items.source = batch.source AND items.source_id = batch.source_id
          AND items.request_id = batch.request_id
"""
"""Stores the batch's new rows; returns the keys new for their request: the rows stored now,
and the rows stored before by the same request (a redelivery; the join reads the table as it
was before this statement's insert)."""
_ORIGINALS = f"""
SELECT wanted.hash AS content_hash, first.key
FROM unnest($1::text[]) AS wanted(hash)
CROSS JOIN LATERAL (
    SELECT {key_sql()} AS key FROM items
    WHERE content_hash = wanted.hash AND dropped_reason IS NULL
    ORDER BY content_hash, id LIMIT 1
) AS first
"""
"""The first kept item of each hash: one probe of (content_hash, id) per hash (an `= ANY`
over the batch's hashes was planned as a sequential scan while the table had no statistics)."""
_IDS = f"""
SELECT id, {key_sql()} AS key FROM items
WHERE (source, source_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  AND (processed_at IS NOT NULL OR NOT $3::bool)
"""
_DROPPED = """
UPDATE items SET processed_at = now(), dropped_reason = b.reason
FROM unnest($1::text[], $2::text[], $3::text[]) AS b(source, source_id, reason)
WHERE items.source = b.source AND items.source_id = b.source_id
"""
_TOPICS = f"""
SELECT {key_sql()} AS key, topic_id FROM items
WHERE (source, source_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  AND topic_id IS NOT NULL
"""


class ItemStore:
    """Writes batches of raw items; items already stored are left as they are."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ids(self, keys: Sequence[str], *, processed_only: bool = False) -> dict[str, int]:
        """The row id of each stored item (only processed ones if asked), by item key."""
        pairs = [split_key(key) for key in keys]
        rows = await self.pool.fetch(
            _IDS, [p[0] for p in pairs], [p[1] for p in pairs], processed_only
        )
        return {row["key"]: row["id"] for row in rows}

    async def mark_vectors(self, ids: Sequence[int]) -> None:
        """Record that these items have their vector in Qdrant."""
        await self.pool.execute(
            "UPDATE items SET has_vector = true WHERE id = ANY($1::bigint[])", ids
        )

    async def save(
        self, items: Sequence[RawItem], hashes: Mapping[str, str] | None = None
    ) -> set[str]:
        """Insert a batch in one statement; return the keys of the items new for their request.

        An item is new for its request when its row was first stored by that request (the
        row's request_id), however often it is delivered: a redelivery after a crash is new
        again, an item another request stored first is not. An item without a request is new
        only when its row is stored now. `hashes` gives items' content hashes by key (the
        enrich stage's, of the normalised text); an item without one gets content_hash() of
        its raw title and text.
        """
        hashes = hashes or {}
        rows = (
            item_row(item, hashes.get(item.key) or content_hash(item.title, item.text))
            for item in items
        )
        columns = list(zip(*rows, strict=True))
        if not columns:
            return set()
        async with self.pool.acquire() as conn:
            inserted = await conn.fetch(_INSERT, *columns)
        return {row["key"] for row in inserted}

    async def originals(self, hashes: Sequence[str]) -> dict[str, str]:
        """The first stored item of each content hash (by insertion), by hash."""
        rows = await self.pool.fetch(_ORIGINALS, list(set(hashes)))
        return {row["content_hash"]: row["key"] for row in rows}

    async def drop(self, reasons: Mapping[str, str]) -> None:
        """Mark items processed and dropped, with why (by key)."""
        pairs = [(*split_key(key), reason) for key, reason in reasons.items()]
        if pairs:
            await self.pool.execute(_DROPPED, *map(list, zip(*pairs, strict=True)))

    async def topics_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The topic each of these items was placed in (items without one are left out)."""
        pairs = [split_key(key) for key in keys]
        if not pairs:
            return {}
        rows = await self.pool.fetch(_TOPICS, [p[0] for p in pairs], [p[1] for p in pairs])
        return {row["key"]: row["topic_id"] for row in rows}
