"""An item's facts, each in one place: its key, its row in `items`, its content hash, its
embedded text and its vector's payload."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "ROW_COLUMNS",
    "ROW_SELECT",
    "ItemFields",
    "Row",
    "content_hash",
    "embedding_text",
    "item_content",
    "item_key",
    "item_row",
    "key_sql",
    "row_fields",
    "split_key",
    "vector_payload",
]

_SEPARATOR = ":"


class Row(Protocol):
    """A row read from PostgreSQL (an asyncpg Record, or a mapping)."""

    def __getitem__(self, key: str, /) -> Any:
        """The value of a column."""


class ItemFields(Protocol):
    """What a row of `items` is made of: a RawItem's fields."""

    source: str
    source_id: str
    url: str | None
    title: str
    text: str
    author: str | None
    published_at: datetime | None
    score: int | None
    comments: int | None
    engagement: dict[str, float]
    request_id: str | None
    collected_at: datetime | None


# -- the key -----------------------------------------------------------------------------------


def item_key(source: str, source_id: str) -> str:
    """The item's key, `source:source_id`: its identity across redeliveries and its Kafka key
    (items of one source and id always land on one partition)."""
    return f"{source}{_SEPARATOR}{source_id}"


def split_key(key: str) -> tuple[str, str]:
    """(source, source_id) of an item key (the id may hold the separator; the source never)."""
    source, _, source_id = key.partition(_SEPARATOR)
    return source, source_id


def key_sql(table: str | None = None) -> str:
    """The item key as a SQL expression over `items` (qualified by `table` when given)."""
    prefix = f"{table}." if table else ""
    return f"{prefix}source || '{_SEPARATOR}' || {prefix}source_id"


# -- the row -----------------------------------------------------------------------------------

ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "text"),
    ("source_id", "text"),
    ("url", "text"),
    ("title", "text"),
    ("body", "text"),
    ("author", "text"),
    ("published_at", "timestamptz"),
    ("score", "int"),
    ("comments", "int"),
    ("engagement", "jsonb"),
    ("content_hash", "text"),
    ("request_id", "text"),
    ("collected_at", "timestamptz"),
)
"""The columns of `items` an item is stored in, in item_row's order, with their SQL types."""
_FIELD_OF = {"body": "text"}
"""The RawItem field of each column not named after its field."""
_READ = tuple((column, kind) for column, kind in ROW_COLUMNS if column != "content_hash")
_SELECTED = tuple(_FIELD_OF.get(column, column) for column, _ in _READ)


def _select(column: str, kind: str) -> str:
    """One column as read back: named after its field, JSON as text."""
    read = f"{column}::text" if kind == "jsonb" else column
    field = _FIELD_OF.get(column, column)
    return read if read == field else f"{read} AS {field}"


ROW_SELECT = ", ".join(_select(column, kind) for column, kind in _READ)
"""The columns of `items` that make a RawItem again (see row_fields), as a SELECT list."""


def item_row(item: ItemFields, digest: str) -> tuple[object, ...]:
    """The values of ROW_COLUMNS for an item whose content hash is `digest` (engagement as
    JSON text: cast to jsonb in SQL)."""
    values: dict[str, object] = {"content_hash": digest, "engagement": json.dumps(item.engagement)}
    return tuple(
        values[column] if column in values else getattr(item, _FIELD_OF.get(column, column))
        for column, _ in ROW_COLUMNS
    )


def row_fields(row: Row) -> dict[str, Any]:
    """A RawItem's fields from a row selected with ROW_SELECT (other columns left out)."""
    fields = {field: row[field] for field in _SELECTED}
    fields["engagement"] = json.loads(row["engagement"]) if row["engagement"] else {}
    return fields


# -- the content -------------------------------------------------------------------------------


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the case-folded, whitespace-collapsed title and text: an exact duplicate has
    the same (the enrich stage hashes the normalised title and text)."""
    content = " ".join(f"{title}\n{text}".casefold().split())
    return hashlib.sha256(content.encode()).hexdigest()


def item_content(title: str, text: str) -> str:
    """Title and text as one string (just the text when the title is its beginning)."""
    if text.startswith(title.rstrip(".… ")):
        return text
    return f"{title}\n{text}" if text else title


def embedding_text(title: str, text: str, max_chars: int) -> str:
    """The text an item's vector is made of: its normalised content, cut at `max_chars`
    (PipelineConfig.embed_max_chars); the same in the enrich stage and every later job."""
    return item_content(title, text)[:max_chars]


def vector_payload(key: str, at: datetime) -> dict[str, Any]:
    """The payload of an item's point in Qdrant: its key and its time (epoch seconds, `ts`)."""
    return {"item": key, "ts": at.timestamp()}
