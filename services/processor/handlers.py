"""The processing jobs: test_pipeline, sweep, reprocess_trends, generate_embeddings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from services.processor.pipeline import BatchResult, Pipeline
from services.processor.reprocess import recompute_trends
from services.processor.resources import Resources
from services.processor.topics import items_topic
from services.processor.vectors import ITEMS
from streams.exceptions import TrendStreamError
from streams.jobs import JobHandler
from streams.records import ProcessRequest, RawItem
from streams.vectors import flush_deletions

__all__ = ["JobError", "handlers", "summary"]

RAW_FIELDS = frozenset(RawItem._options.fields)
_UNPROCESSED = """
SELECT source, source_id, url, title, body AS text, author, published_at, score, comments,
       engagement::text AS engagement, request_id, collected_at
FROM items WHERE processed_at IS NULL ORDER BY collected_at LIMIT $1
"""
_MISSING_VECTORS = """
SELECT id, source || ':' || source_id AS key, title, body, published_at, collected_at, topic_id
FROM items WHERE NOT has_vector AND processed_at IS NOT NULL AND dropped_reason IS NULL
ORDER BY id LIMIT $1
"""


class JobError(TrendStreamError):
    """A job's options are wrong."""


def handlers(resources: Resources) -> dict[str, JobHandler[ProcessRequest]]:
    """The jobs this processor serves, bound to its resources."""
    return {
        "test_pipeline": partial(test_pipeline, resources),
        "sweep": partial(sweep, resources),
        "generate_embeddings": partial(generate_embeddings, resources),
        "reprocess_trends": partial(reprocess_trends, resources),
    }


def _whole(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobError(f"option {name!r} must be a whole number >= 1, got {value!r}")
    return value


def _sample(resources: Resources, options: Mapping[str, Any]) -> list[RawItem]:
    size = _whole(options, "sample_size", 10)
    if "items" in options:
        rows = options["items"]
    elif "path" in options:
        rows = _jsonl(resources.settings.file_plugin_dir, str(options["path"]))
    else:
        raise JobError("test_pipeline needs option 'items' (a list of items) or 'path' (JSONL)")
    if not isinstance(rows, list):
        raise JobError("option 'items' must be a list of items")
    return [RawItem.parse({k: v for k, v in row.items() if k in RAW_FIELDS}) for row in rows[:size]]


def _jsonl(root: Path, given: str) -> list[dict[str, Any]]:
    base = root.resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise JobError(f"option 'path': no JSONL file {given!r} inside FILE_PLUGIN_DIR ({base})")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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


async def test_pipeline(resources: Resources, request: ProcessRequest) -> dict[str, Any]:
    """The pipeline on sample items, in memory: no database, no vector store."""
    items = _sample(resources, request.options)
    shared = await resources.pipeline()
    pipeline = Pipeline(shared.config, embedder=shared.embedder)
    result = await asyncio.to_thread(pipeline.process, items)
    return summary(result, pipeline)


async def sweep(resources: Resources, request: ProcessRequest) -> dict[str, Any]:
    """Send items stored but never processed back through items.raw (up to `limit`); delete
    the vectors cleanup queued (the processor holds Qdrant's local folder)."""
    limit = _whole(request.options, "limit", 1000)
    rows = await (await resources.pool()).fetch(_UNPROCESSED, limit)
    for row in rows:
        item = RawItem.parse({**dict(row), "engagement": json.loads(row["engagement"])})
        await items_topic.send(key=item.key, value=item.dumps())
    vectors = await resources.vectors()
    deleted = await flush_deletions(vectors.client, resources.settings, await resources.pool())
    return {"items_resent": len(rows), "limit": limit, "vectors_deleted": deleted}


async def reprocess_trends(resources: Resources, request: ProcessRequest) -> dict[str, Any]:
    """Recompute the scores and states of the topics active in the last `hours` (default 24)."""
    hours = _whole(request.options, "hours", 24)
    done = await recompute_trends(await resources.pool(), resources.config, hours)
    return {"hours": hours, "topics": done.topics, "state_changes": done.changed}


async def generate_embeddings(resources: Resources, request: ProcessRequest) -> dict[str, Any]:
    """Vectors for processed items that have none, in batches of `batch_size` (default 100)."""
    batch_size = _whole(request.options, "batch_size", 100)
    limit = _whole(request.options, "limit", 1000)
    pool, done = await resources.pool(), 0
    while done < limit:
        rows = await pool.fetch(_MISSING_VECTORS, min(batch_size, limit - done))
        if not rows:
            break
        await _embed_rows(resources, rows)
        done += len(rows)
    return {"items_embedded": done, "batch_size": batch_size}


async def _embed_rows(resources: Resources, rows: list[Any]) -> None:
    pipeline = await resources.pipeline()
    texts = [f"{row['title']}. {row['body']}".strip() for row in rows]
    vectors = (await asyncio.to_thread(pipeline.embedder.encode, texts)).tolist()
    payloads = [
        {
            "item": row["key"],
            "topic": row["topic_id"],
            "ts": (row["published_at"] or row["collected_at"]).timestamp(),
        }
        for row in rows
    ]
    await (await resources.vectors()).upsert(ITEMS, [row["id"] for row in rows], vectors, payloads)
    await (await resources.items()).mark_vectors([row["id"] for row in rows])
