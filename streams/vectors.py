"""Where vectors live: Qdrant's client (local mode or server) and the collection names."""

from __future__ import annotations

from qdrant_client import AsyncQdrantClient

from streams.config import Settings

__all__ = ["ITEMS", "TOPICS", "collection_name", "qdrant_client"]

ITEMS = "items"
TOPICS = "topics"


def qdrant_client(settings: Settings) -> AsyncQdrantClient:
    """A client on QDRANT_URL, or Qdrant's local mode in QDRANT_PATH (one process at a time)."""
    if settings.qdrant_url:
        return AsyncQdrantClient(url=settings.qdrant_url)
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    return AsyncQdrantClient(path=str(settings.qdrant_path))


def collection_name(settings: Settings, collection: str) -> str:
    """A collection's name in Qdrant: NAMESPACE, then the collection."""
    return f"{settings.namespace}{collection}"
