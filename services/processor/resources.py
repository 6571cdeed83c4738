"""A processor worker's clients: PostgreSQL, Redis, Qdrant, and the enrich stage's model."""

from __future__ import annotations

import asyncio
import logging

from qdrant_client import AsyncQdrantClient

from services.processor.pipeline import Embedder, Enricher, PipelineConfig
from services.processor.pipeline.embed import embedder_for
from services.processor.store import ItemStore
from services.processor.vectors import VectorStore, qdrant_client
from streams.config import Settings
from streams.servers.resources import WorkerResources

__all__ = ["Resources"]

log = logging.getLogger(__name__)


class Resources(WorkerResources):
    """The shared clients and the enrich stage (the model loaded once); the cluster stage's
    ownership is services/processor/owner.py's."""

    def __init__(
        self, settings: Settings, config: PipelineConfig, embedder: Embedder | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config
        self.embedder = embedder
        """The enrich stage's embedder; None (always in production): the model of `config`.
        Set before the first batch only by bench/ worker modules (a labelled stand-in)."""
        self._qdrant: AsyncQdrantClient | None = None
        self._enricher: Enricher | None = None
        self._vectors: VectorStore | None = None

    async def enricher(self) -> Enricher:
        """The enrich stage (the model is loaded once, in a thread, on first use)."""
        async with self._lock:
            if self._enricher is None:
                embedder = self.embedder
                if embedder is None:
                    embedder = await asyncio.to_thread(embedder_for, self.config)
                self._enricher = await asyncio.to_thread(Enricher, self.config, embedder)
            return self._enricher

    async def vectors(self) -> VectorStore:
        """The Qdrant collections, created if missing (asked again after a server away,
        on the same client)."""
        enricher = await self.enricher()
        async with self._lock:
            if self._vectors is None:
                if self._qdrant is None:
                    self._qdrant = qdrant_client(self.settings)
                store = VectorStore(self._qdrant, self.settings, enricher.embedder.dimension)
                await store.ensure()
                self._vectors = store
        return self._vectors

    async def items(self) -> ItemStore:
        """Raw item rows."""
        return ItemStore(await self.pool())

    async def close(self) -> None:
        """Close every connection."""
        await super().close()
        if self._qdrant is not None:
            await self._qdrant.close()
