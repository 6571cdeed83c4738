"""Stores raw items in PostgreSQL, idempotently (a redelivered item changes nothing)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import asyncpg

from streams.records import RawItem

__all__ = ["ItemStore", "content_hash"]

_INSERT = """
INSERT INTO items (source, source_id, url, title, body, author, published_at, score, comments,
                   engagement, content_hash, request_id, collected_at)
SELECT source, source_id, url, title, body, author, published_at, score, comments,
       engagement::jsonb, content_hash, request_id, collected_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::int[], $9::int[], $10::text[], $11::text[], $12::text[],
            $13::timestamptz[])
     AS batch(source, source_id, url, title, body, author, published_at, score, comments,
              engagement, content_hash, request_id, collected_at)
ON CONFLICT (source, source_id) DO NOTHING
RETURNING request_id
"""


def content_hash(item: RawItem) -> str:
    """SHA-256 of the normalised title and text, for exact-duplicate detection."""
    text = " ".join(f"{item.title}\n{item.text}".lower().split())
    return hashlib.sha256(text.encode()).hexdigest()


class ItemStore:
    """Writes batches of raw items; items already stored are left as they are."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ids(self, keys: Sequence[str], *, processed_only: bool = False) -> dict[str, int]:
        """The row id of each stored item (only processed ones if asked), by item key."""
        pairs = [key.partition(":") for key in keys]
        rows = await self.pool.fetch(
            "SELECT id, source, source_id FROM items WHERE (source, source_id) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[])) "
            "AND (processed_at IS NOT NULL OR NOT $3::bool)",
            [p[0] for p in pairs],
            [p[2] for p in pairs],
            processed_only,
        )
        return {f"{row['source']}:{row['source_id']}": row["id"] for row in rows}

    async def mark_vectors(self, ids: Sequence[int]) -> None:
        """Record that these items have their vector in Qdrant."""
        await self.pool.execute(
            "UPDATE items SET has_vector = true WHERE id = ANY($1::bigint[])", ids
        )

    async def save(self, items: Sequence[RawItem]) -> list[str | None]:
        """Insert a batch in one statement; return the request id of each row that was new."""
        columns = list(zip(*(_row(item) for item in items), strict=True))
        if not columns:
            return []
        async with self.pool.acquire() as conn:
            inserted = await conn.fetch(_INSERT, *columns)
        return [row["request_id"] for row in inserted]


def _row(item: RawItem) -> tuple[object, ...]:
    return (
        item.source,
        item.source_id,
        item.url,
        item.title,
        item.text,
        item.author,
        item.published_at,
        item.score,
        item.comments,
        json.dumps(item.engagement),
        content_hash(item),
        item.request_id,
        item.collected_at,
    )
