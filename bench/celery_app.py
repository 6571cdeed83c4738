"""The old design for comparison: Celery 5 tasks on RabbitMQ with a Redis result backend.

`celery -A bench.celery_app worker` runs them. The per-item work is trend-stream's own
normalize, a content-hash dedupe and an INSERT into the run's `items` table (as the old
collector's save step did); no embedding, no clustering. Configured from the environment:
BENCH_AMQP_URL, BENCH_CELERY_QUEUE, DATABASE_URL, REDIS_URL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import psycopg
from celery import Celery
from celery.signals import worker_process_init

from bench.items import stored_values
from services.processor.pipeline import NormalizedItem, normalize
from streams.config import load_settings
from streams.messages.items import content_hash
from streams.messages.records import RawItem

SETTINGS = load_settings()
QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench")
app = Celery(
    "trend-bench",
    broker=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5673//"),
    backend=SETTINGS.redis_url,
)
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,  # the old system's worker options (see parity.md)
    task_acks_late=True,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
)
_INSERT = """
INSERT INTO items (source, source_id, url, title, body, author, published_at, score, comments,
                   content_hash, language, request_id, collected_at, processed_at, duplicate_of)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)
ON CONFLICT (source, source_id) DO NOTHING
"""
_connection: psycopg.Connection[Any] | None = None


@worker_process_init.connect
def _reset(**_: object) -> None:
    global _connection  # noqa: PLW0603 - one connection per pool process, as Celery apps keep them
    _connection = None


def connection() -> psycopg.Connection[Any]:
    """This pool process's PostgreSQL connection."""
    global _connection  # noqa: PLW0603
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(SETTINGS.database_url.get_secret_value())
    return _connection


def _ingest(cursor: psycopg.Cursor[Any], payload: dict[str, Any]) -> bool:
    """Normalize, dedupe by content hash, persist one item; False when dropped or a duplicate."""
    item = RawItem.parse(payload)
    cleaned = normalize(item, 600)
    if not isinstance(cleaned, NormalizedItem):
        return False
    digest = content_hash(item.title, item.text)
    cursor.execute("SELECT id FROM items WHERE content_hash = %s LIMIT 1", (digest,))
    original = cursor.fetchone()
    values = stored_values(item, digest, cleaned.language, original[0] if original else None)
    cursor.execute(_INSERT, values)
    return original is None


@app.task(name="bench.ingest_item")
def ingest_item(payload: dict[str, Any]) -> bool:
    """One item per task, as the old system queued them."""
    conn = connection()
    with conn.transaction(), conn.cursor() as cursor:
        return _ingest(cursor, payload)


@app.task(name="bench.ingest_batch")
def ingest_batch(payloads: Sequence[dict[str, Any]]) -> int:
    """A batch per task, in one transaction: how many items were new."""
    conn = connection()
    with conn.transaction(), conn.cursor() as cursor:
        return sum(_ingest(cursor, payload) for payload in payloads)


@app.task(name="bench.collect_file_dry_run")
def collect_file_dry_run(path: str, sample_size: int = 5) -> dict[str, Any]:
    """The `file` plugin's dry run as a task: read the JSONL, return a sample and counts."""
    with open(path, encoding="utf-8") as lines:
        items = [RawItem.parse(line) for line in lines if line.strip()]
    return {
        "items_collected": len(items),
        "items_published": 0,
        "sample": [item.asdict() for item in items[:sample_size]],
    }
