"""BENCH ONLY, a stand-in, never a service: `faust -A bench.samework_processor worker`.

Trend-stream doing exactly the per-item work of the Celery tasks of bench/celery_app.py, for
benchmark 4's like-for-like row: the project's normalize (services/processor/pipeline, 600
characters for language detection, as the tasks), the same content-hash dedupe (a row whose
hash is already stored, or earlier in the batch, gets `duplicate_of`) and the same INSERT into
the run's `items` table (processed_at now(); dropped items are not stored), batched per Faust
batch (`stream.take_events`, the processor's batch size and wait) in one transaction. No
embedding, clustering, scoring, vectors, topics or reports: the real processor is
services/processor/agents.py. Its own Faust app (no autodiscovery, so none of the processor's
agents run), with the processor's app id, port and settings, on the run's items.raw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from bench.items import stored_values
from services.processor.pipeline import NormalizedItem, normalize
from streams.exceptions import RecordValidationError
from streams.messages.items import content_hash
from streams.messages.records import RawItem
from streams.messages.topics import ITEMS_RAW, faust_topic
from streams.servers.app import create_app
from streams.servers.db import create_pool
from streams.servers.web import add_health_view

__all__ = ["app", "health", "ingest", "same_work"]

log = logging.getLogger(__name__)
app = create_app("processor")
app.conf.autodiscover = False  # services.processor's agents must not run here
items_topic = faust_topic(app, ITEMS_RAW, app.settings, raw=True)
health = add_health_view(app)  # GET /health: the bench waits for its partitions
_LANGUAGE_CHARS = 600  # as bench/celery_app.py
BATCH_WITHIN_S = 0.1
"""The longest a batch waits to fill. Under load batches fill at once, so this only matters
at the end of a bench round: the processor's PROCESSOR_BATCH_WITHIN_S (1 s) made the last
partial batch of each round wait a second, which the Celery tasks never do."""
_INSERT = """
INSERT INTO items (source, source_id, url, title, body, author, published_at, score, comments,
                   content_hash, language, request_id, collected_at, processed_at, duplicate_of)
SELECT source, source_id, url, title, body, author, published_at, score, comments,
       content_hash, language, request_id, collected_at, now(), duplicate_of
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::int[], $9::int[], $10::text[], $11::text[], $12::text[],
            $13::timestamptz[], $14::bigint[])
     AS batch(source, source_id, url, title, body, author, published_at, score, comments,
              content_hash, language, request_id, collected_at, duplicate_of)
ON CONFLICT (source, source_id) DO NOTHING
"""
_STORED = """
SELECT wanted.hash AS content_hash, first.id
FROM unnest($1::text[]) AS wanted(hash)
CROSS JOIN LATERAL (
    SELECT id FROM items WHERE content_hash = wanted.hash ORDER BY content_hash, id LIMIT 1
) AS first
"""
_pool: asyncpg.Pool | None = None

Row = tuple[RawItem, NormalizedItem, str]


def same_work(items: Sequence[RawItem]) -> list[Row]:
    """Normalize each item and hash its content; dropped items are left out (as the tasks do)."""
    rows = []
    for item in items:
        cleaned = normalize(item, _LANGUAGE_CHARS)
        if isinstance(cleaned, NormalizedItem):
            rows.append((item, cleaned, content_hash(item.title, item.text)))
    return rows


async def _insert(conn: Any, rows: Sequence[Row], originals: dict[str, int]) -> None:
    values = [
        stored_values(item, digest, cleaned.language, originals.get(digest))
        for item, cleaned, digest in rows
    ]
    await conn.execute(_INSERT, *(list(column) for column in zip(*values, strict=True)))


async def ingest(pool: asyncpg.Pool, items: Sequence[RawItem]) -> int:
    """Normalize, dedupe by content hash and persist a batch in one transaction; how many new."""
    rows = same_work(items)  # in the loop: a thread hop per batch cost more than it overlapped
    if not rows:
        return 0
    digests = sorted({digest for _, _, digest in rows})
    async with pool.acquire() as conn, conn.transaction():
        stored = {r["content_hash"]: r["id"] for r in await conn.fetch(_STORED, digests)}
        first, repeats, seen = [], [], set()
        for row in rows:  # a repeat: a duplicate of an item earlier in this batch
            (repeats if row[2] in seen and row[2] not in stored else first).append(row)
            seen.add(row[2])
        await _insert(conn, first, stored)
        if repeats:  # their originals' ids, now inserted
            hashes = sorted({digest for _, _, digest in repeats})
            originals = {r["content_hash"]: r["id"] for r in await conn.fetch(_STORED, hashes)}
            await _insert(conn, repeats, originals)
    return sum(1 for row in first if row[2] not in stored)


async def pool() -> asyncpg.Pool:
    """This worker's PostgreSQL pool."""
    global _pool  # noqa: PLW0603 - one pool per worker
    if _pool is None:
        _pool = await create_pool(app.settings, max_size=2)
    return _pool


@app.agent(items_topic)
async def ingest_items(stream: Any) -> None:
    """Each batch of raw items: normalized, deduped, inserted (the Celery tasks' work only)."""
    settings = app.settings
    batches = stream.take_events(settings.processor_batch_size, within=BATCH_WITHIN_S)
    async for events in batches:
        items = []
        for event in events:
            try:
                items.append(RawItem.parse(event.message.value))
            except RecordValidationError as exc:
                log.warning("bench: invalid raw item skipped: %s", exc)
        await ingest(await pool(), items)


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close(sender: Any, **kwargs: Any) -> None:
    if _pool is not None:
        await _pool.close()
