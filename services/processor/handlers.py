"""The processing jobs on request (declared in streams/catalog.py), one function each."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.processor.cleanup import cleanup
from services.processor.pipeline import BatchResult, Pipeline
from services.processor.rebuild import Shadow, change, live_topics, live_trends, read_enriched
from services.processor.resources import Resources
from services.processor.topics import items_topic
from services.processor.vectors import ITEMS
from streams import catalog
from streams.catalog import (
    CleanupOptions,
    EmbeddingOptions,
    RebuildOptions,
    SweepOptions,
    TestPipelineOptions,
)
from streams.exceptions import RecordValidationError
from streams.messages.items import ROW_SELECT, embedding_text, row_fields, vector_payload
from streams.messages.records import ProcessRequest, RawItem
from streams.requests.jobs import JobHandler, JobOptionsError, OptionSchemas, job_handlers
from streams.servers.vectors import flush_deletions

__all__ = [
    "OPTIONS",
    "JobError",
    "cleanup_data",
    "generate_embeddings",
    "handlers",
    "rebuild_topics",
    "summary",
    "sweep",
    "test_pipeline",
]

RAW_FIELDS = frozenset(RawItem._options.fields)
_UNPROCESSED = f"""
SELECT {ROW_SELECT} FROM items WHERE processed_at IS NULL ORDER BY collected_at LIMIT $1
"""
_MISSING_VECTORS = f"""
SELECT id, {ROW_SELECT}
FROM items WHERE NOT has_vector AND processed_at IS NOT NULL AND dropped_reason IS NULL
ORDER BY id LIMIT $1
"""


class JobError(JobOptionsError):
    """A job's options are wrong (bad input: never retried)."""


OPTIONS: OptionSchemas = catalog.option_schemas("processor")
"""The options each processing job accepts (anything else is refused before it runs)."""


def handlers(resources: Resources) -> dict[str, JobHandler[ProcessRequest]]:
    """Each processing job of the catalog: the function of its name, bound to the resources."""
    return job_handlers(ProcessRequest, sys.modules[__name__], resources)


def _sample(resources: Resources, options: TestPipelineOptions) -> list[RawItem]:
    if options.items is not None:
        rows = options.items
    else:
        rows = _jsonl(resources.settings.file_plugin_dir, str(options.path))
    try:
        return [
            RawItem.parse({k: v for k, v in row.items() if k in RAW_FIELDS})
            for row in rows[: options.sample_size]
        ]
    except RecordValidationError as exc:
        raise JobError(f"option 'items': {exc}") from None


def _jsonl(root: Path, given: str) -> list[dict[str, Any]]:
    base = root.resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise JobError(f"option 'path': no JSONL file {given!r} inside FILE_PLUGIN_DIR ({base})")
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JobError(f"option 'path': {given!r} is not JSONL: {exc}") from None
    if not all(isinstance(row, dict) for row in rows):
        raise JobError(f"option 'path': {given!r} holds lines that are not items")
    return rows


def summary(result: BatchResult, pipeline: Pipeline) -> dict[str, Any]:
    """The topics and trends of a pipeline run, as a job result."""
    return {
        "items": len(result.outcomes),
        "dropped": dict(pipeline.dropped),
        "duplicates": pipeline.duplicates,
        "topics": [
            {"label": t.label, "size": t.size, "keywords": list(t.keywords)} for t in result.topics
        ],
        "trends": [
            {"label": t.label, "state": t.state.value, "score": round(t.score, 3)}
            for t in result.trends
        ],
    }


async def test_pipeline(
    resources: Resources, request: ProcessRequest, options: TestPipelineOptions
) -> dict[str, Any]:
    """Both stages on sample items, in memory: no database, no vector store."""
    items = _sample(resources, options)
    embedder = (await resources.enricher()).embedder
    pipeline = Pipeline(resources.config, embedder=embedder)
    result = await asyncio.to_thread(pipeline.process, items)
    return summary(result, pipeline)


async def sweep(
    resources: Resources, request: ProcessRequest, options: SweepOptions
) -> dict[str, Any]:
    """Send items stored but never processed back through items.raw (up to `limit`, default
    SWEEP_LIMIT); delete the vectors cleanup queued (the processor holds Qdrant's local
    folder)."""
    limit = options.limit
    rows = await (await resources.pool()).fetch(_UNPROCESSED, limit)
    for row in rows:
        item = RawItem.parse(row_fields(row))
        await items_topic.send(key=item.key, value=item.dumps())
    vectors = await resources.vectors()
    deleted = await flush_deletions(vectors.client, resources.settings, await resources.pool())
    return {"items_resent": len(rows), "limit": limit, "vectors_deleted": deleted}


async def generate_embeddings(
    resources: Resources, request: ProcessRequest, options: EmbeddingOptions
) -> dict[str, Any]:
    """Vectors for processed items that have none, in batches of `batch_size` (default 100)."""
    pool, done = await resources.pool(), 0
    while done < options.limit:
        rows = await pool.fetch(_MISSING_VECTORS, min(options.batch_size, options.limit - done))
        if not rows:
            break
        await _embed_rows(resources, rows)
        done += len(rows)
    return {"items_embedded": done, "batch_size": options.batch_size}


async def rebuild_topics(
    resources: Resources, request: ProcessRequest, options: RebuildOptions
) -> dict[str, Any]:
    """A dry run of rebuilding the topics: items.enriched of the last `hours` (no model run)
    replayed through a shadow cluster stage of this worker's settings, in time order, beside the
    live stage; reports how its topics differ from the saved ones (see rebuild.change)."""
    started = time.monotonic()
    since = datetime.now(UTC) - timedelta(hours=options.hours)
    logged = await read_enriched(resources.settings, since)
    shadow = Shadow(resources.config, (await resources.enricher()).embedder.dimension)
    await asyncio.to_thread(shadow.replay, logged.items, resources.settings.processor_batch_size)
    keys = [item.item_id for item in logged.items]
    pool = await resources.pool()
    found = change(await live_topics(pool, keys), shadow.topics(keys))
    took = time.monotonic() - started
    return {
        "dry_run": True,
        "hours": options.hours,
        "from": logged.first_at.isoformat() if logged.first_at else None,
        "undecodable": logged.undecodable,
        **found.as_dict(),
        "trends_before": await live_trends(pool, options.top),
        "trends_after": shadow.trends(options.top),
        "seconds": round(took, 2),
        "items_per_s": round(len(keys) / took, 1) if took > 0 else None,
    }


async def cleanup_data(
    resources: Resources, request: ProcessRequest, options: CleanupOptions
) -> dict[str, Any]:
    """Delete the processor's items, trend snapshots, trends and topics older than `days`
    (default CLEANUP_DAYS), then their vectors with the worker's own Qdrant client."""
    vectors = await resources.vectors()
    pool = await resources.pool()
    report = await cleanup(resources.settings, pool, options.days, vectors.client)
    return report.as_dict()


async def _embed_rows(resources: Resources, rows: list[Any]) -> None:
    """Embed stored items as the enrich stage embeds them: the text of their normalised
    title and text, cut at embed_max_chars; their payload has their key and time."""
    enricher = await resources.enricher()
    items = [RawItem.parse(row_fields(row)) for row in rows]
    cleaned, _ = await asyncio.to_thread(enricher.normalize, items)
    limit = resources.config.embed_max_chars
    texts = [embedding_text(item.title, item.text, limit) for item in cleaned]
    vectors = (await asyncio.to_thread(enricher.embedder.encode, texts)).tolist()
    payloads = [vector_payload(item.item_id, item.at) for item in cleaned]
    row_of = {item.key: row["id"] for item, row in zip(items, rows, strict=True)}
    points = [row_of[item.item_id] for item in cleaned]
    await (await resources.vectors()).upsert(ITEMS, points, vectors, payloads)
    await (await resources.items()).mark_vectors(points)
