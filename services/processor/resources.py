"""The processor worker's shared clients and its pipeline, opened on first use."""

from __future__ import annotations

import asyncio

from pydantic import TypeAdapter, ValidationError
from qdrant_client import AsyncQdrantClient

from services.processor.persist import PipelineStore, load_state
from services.processor.pipeline import Embedder, Pipeline, PipelineConfig
from services.processor.store import ItemStore
from services.processor.vectors import VectorStore, qdrant_client
from streams.config import Settings
from streams.exceptions import ConfigurationError
from streams.resources import WorkerResources

__all__ = ["Resources", "pipeline_config"]


def pipeline_config(settings: Settings) -> PipelineConfig:
    """The pipeline's settings: defaults, PIPELINE_SETTINGS overrides, EMBEDDING_MODEL_PATH."""
    unknown = sorted(set(settings.pipeline_settings) - set(PipelineConfig.field_names()))
    if unknown:
        raise ConfigurationError(
            f"invalid configuration: PIPELINE_SETTINGS: unknown setting(s) {', '.join(unknown)}"
        )
    given = {**settings.pipeline_settings, "model_path": settings.embedding_model_path}
    try:
        return TypeAdapter(PipelineConfig).validate_python(given, strict=False)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid configuration: PIPELINE_SETTINGS: {problems}") from None


class Resources(WorkerResources):
    """The shared clients, plus the Qdrant client and the pipeline, per worker process."""

    def __init__(
        self, settings: Settings, config: PipelineConfig, embedder: Embedder | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config
        self.embedder = embedder
        """The pipeline's embedder; None (always in production): the model of `config`.
        Set before the first batch only by bench/ worker modules (a labelled stand-in)."""
        self._qdrant: AsyncQdrantClient | None = None
        self._pipeline: Pipeline | None = None
        self._loaded_embedder: Embedder | None = None
        self._vectors: VectorStore | None = None

    async def pipeline(self) -> Pipeline:
        """The trend pipeline (the model is loaded once, in a thread, on first use)."""
        async with self._lock:
            if self._pipeline is None:
                embedder = self.embedder or self._loaded_embedder
                pipeline = await asyncio.to_thread(Pipeline, self.config, embedder)
                saved = await load_state(await self._unlocked_pool())
                if saved is not None:
                    pipeline.restore(saved[0], saved=saved[1])
                self._pipeline = pipeline
        return self._pipeline

    async def forget_pipeline(self) -> None:
        """Drop what the pipeline learnt since its last saved state (after a failed batch).

        The next batch continues from the state in PostgreSQL; the model stays loaded.
        """
        async with self._lock:
            if self._pipeline is not None:
                self._loaded_embedder = self._pipeline.embedder
                self._pipeline = None

    async def vectors(self) -> VectorStore:
        """The Qdrant collections, created if missing."""
        pipeline = await self.pipeline()
        async with self._lock:
            if self._vectors is None:
                self._qdrant = qdrant_client(self.settings)
                store = VectorStore(self._qdrant, self.settings, pipeline.embedder.dimension)
                await store.ensure()
                self._vectors = store
        return self._vectors

    async def items(self) -> ItemStore:
        """Raw item rows."""
        return ItemStore(await self.pool())

    async def results(self) -> PipelineStore:
        """Pipeline outcome rows."""
        pipeline = await self.pipeline()
        return PipelineStore(await self.pool(), pipeline.config.window_hours)

    async def close(self) -> None:
        """Close every connection."""
        await super().close()
        if self._qdrant is not None:
            await self._qdrant.close()
