"""Vectors in Qdrant: the `items` collection (local mode at QDRANT_PATH, or a server)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from streams.config import Settings
from streams.servers.vectors import ITEMS, collection_name, local_journal, qdrant_client

__all__ = ["ITEMS", "VectorStore", "qdrant_client"]


class VectorStore:
    """Item vectors, cosine distance, collection names prefixed with NAMESPACE."""

    def __init__(self, client: AsyncQdrantClient, settings: Settings, dimensions: int) -> None:
        self.client = client
        self.settings = settings
        self.dimensions = dimensions

    def name(self, collection: str) -> str:
        """The collection's name in Qdrant."""
        return collection_name(self.settings, collection)

    async def ensure(self) -> str | None:
        """Create the items collection if it is missing (idempotent); in local mode, its
        journal in WAL mode (see local_journal), which it returns."""
        if not await self.client.collection_exists(self.name(ITEMS)):
            await self.client.create_collection(
                self.name(ITEMS),
                vectors_config=models.VectorParams(
                    size=self.dimensions, distance=models.Distance.COSINE
                ),
            )
        return local_journal(self.client, self.name(ITEMS))

    async def upsert(
        self,
        collection: str,
        ids: Sequence[int | str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[dict[str, Any]],
    ) -> None:
        """Insert or replace points (a redelivered batch changes nothing)."""
        points = [
            models.PointStruct(id=point_id, vector=list(map(float, vector)), payload=payload)
            for point_id, vector, payload in zip(ids, vectors, payloads, strict=True)
        ]
        if points:
            await self.client.upsert(self.name(collection), points=points, wait=True)

    async def delete(self, collection: str, ids: Sequence[int | str]) -> None:
        """Remove points by id."""
        if ids:
            await self.client.delete(
                self.name(collection), points_selector=models.PointIdsList(points=list(ids))
            )

    async def count(self, collection: str) -> int:
        """How many points a collection holds."""
        return (await self.client.count(self.name(collection), exact=True)).count
