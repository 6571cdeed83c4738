"""Vectors in Qdrant: `items` and `topics` collections (local mode at QDRANT_PATH, or a server)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from streams.config import Settings
from streams.servers.vectors import ITEMS, TOPICS, collection_name, qdrant_client

__all__ = ["ITEMS", "TOPICS", "Neighbour", "VectorStore", "qdrant_client"]


@dataclass(frozen=True)
class Neighbour:
    """A stored vector close to a query: its id, cosine similarity and payload."""

    id: int | str
    score: float
    payload: dict[str, Any]


class VectorStore:
    """Item and topic vectors, cosine distance, collection names prefixed with NAMESPACE."""

    def __init__(self, client: AsyncQdrantClient, settings: Settings, dimensions: int) -> None:
        self.client = client
        self.settings = settings
        self.dimensions = dimensions

    def name(self, collection: str) -> str:
        """The collection's name in Qdrant."""
        return collection_name(self.settings, collection)

    async def ensure(self) -> None:
        """Create the collections that are missing (idempotent)."""
        for collection in (ITEMS, TOPICS):
            if not await self.client.collection_exists(self.name(collection)):
                await self.client.create_collection(
                    self.name(collection),
                    vectors_config=models.VectorParams(
                        size=self.dimensions, distance=models.Distance.COSINE
                    ),
                )

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

    async def nearest(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 5,
        since: datetime | None = None,
    ) -> list[Neighbour]:
        """The closest points, optionally only those with payload `ts` >= since (epoch seconds)."""
        condition = None
        if since is not None:
            condition = models.Filter(
                must=[models.FieldCondition(key="ts", range=models.Range(gte=since.timestamp()))]
            )
        found = await self.client.query_points(
            self.name(collection),
            query=list(map(float, vector)),
            limit=limit,
            query_filter=condition,
            with_payload=True,
        )
        return [
            Neighbour(p.id if isinstance(p.id, int) else str(p.id), p.score, dict(p.payload or {}))
            for p in found.points
        ]

    async def delete(self, collection: str, ids: Sequence[int | str]) -> None:
        """Remove points by id."""
        if ids:
            await self.client.delete(
                self.name(collection), points_selector=models.PointIdsList(points=list(ids))
            )

    async def count(self, collection: str) -> int:
        """How many points a collection holds."""
        return (await self.client.count(self.name(collection), exact=True)).count
