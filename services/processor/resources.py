"""A processor worker's clients, its enrich stage and, while it owns it, the cluster stage."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass

from qdrant_client import AsyncQdrantClient

from services.processor.persist import PipelineStore, acquire, current_owner, load_state
from services.processor.pipeline import ClusterStage, Embedder, Enricher, PipelineConfig
from services.processor.pipeline.embed import load_embedder
from services.processor.store import ItemStore
from services.processor.vectors import VectorStore, qdrant_client
from streams.config import Settings
from streams.reliability.retry import is_outage
from streams.servers.resources import WorkerResources

__all__ = ["Ownership", "Resources"]

log = logging.getLogger(__name__)
REBALANCE_WAIT_S = 60.0
"""How long a cluster batch waits for a rebalance under way to say who owns the stage."""


@dataclass(frozen=True)
class Ownership:
    """The cluster stage as this worker holds it, and the owner epoch its writes carry."""

    stage: ClusterStage
    epoch: int


class Resources(WorkerResources):
    """The shared clients, the enrich stage, and the cluster stage while this worker owns it."""

    def __init__(
        self, settings: Settings, config: PipelineConfig, embedder: Embedder | None = None
    ) -> None:
        super().__init__(settings)
        self.config = config
        self.embedder = embedder
        """The enrich stage's embedder; None (always in production): the model of `config`.
        Set before the first batch only by bench/ worker modules (a labelled stand-in)."""
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        """How this worker names itself as the cluster stage's owner."""
        self._qdrant: AsyncQdrantClient | None = None
        self._enricher: Enricher | None = None
        self._vectors: VectorStore | None = None
        self._ownership: Ownership | None = None
        self._cluster_lock = asyncio.Lock()
        self._taking_over: asyncio.Task[None] | None = None
        self._assigned = False
        """Whether the latest assignment gave items.enriched to this worker."""
        self._settled = asyncio.Event()
        """Set while no rebalance is under way (cleared on revocation, set on assignment)."""

    async def enricher(self) -> Enricher:
        """The enrich stage (the model is loaded once, in a thread, on first use)."""
        async with self._lock:
            if self._enricher is None:
                embedder = self.embedder
                if embedder is None:
                    embedder = await asyncio.to_thread(
                        load_embedder, self.config.model_path, self.config.embed_batch_size
                    )
                self._enricher = await asyncio.to_thread(Enricher, self.config, embedder)
            return self._enricher

    async def ownership(self) -> Ownership | None:
        """The cluster stage if items.enriched is this worker's (taken over, epoch bumped and
        state restored, if not held yet); None when it is not. While a rebalance is under
        way, waits (up to REBALANCE_WAIT_S) to know whether it stays here."""
        try:
            await asyncio.wait_for(self._settled.wait(), REBALANCE_WAIT_S)
        except TimeoutError:
            return None
        async with self._cluster_lock:
            if not self._assigned:
                return None
            if self._ownership is None:
                self._ownership = await self._take_over()
            return self._ownership

    async def _take_over(self) -> Ownership:
        dimension = (await self.enricher()).embedder.dimension
        began = time.perf_counter()
        pool = await self.pool()
        epoch = await acquire(pool, self.identity)
        stage = ClusterStage(self.config, dimension)
        saved = await load_state(pool)
        if saved is not None:
            await asyncio.to_thread(stage.restore, saved)
        took = time.perf_counter() - began
        log.info(
            "cluster stage taken over epoch=%d topics=%d restore_ms=%.0f",
            epoch,
            len(stage.clusterer.topics),
            took * 1000,
        )
        return Ownership(stage, epoch)

    async def on_assigned(self, holds: bool) -> None:
        """After a rebalance: take the cluster stage over at once when items.enriched came to
        this worker (keeping its memory when no one wrote since), else let the memory go.

        Never raises for a server away (Faust stops a worker whose rebalance callback
        raises): the memory goes, and the next batch takes the stage over from PostgreSQL,
        waiting the outage out in place."""
        async with self._cluster_lock:
            self._assigned = holds
            held = self._ownership
            if held is not None and holds:
                if (await self._owner_now())[0] == held.epoch:
                    self._settled.set()
                    return
                log.info("cluster stage was written by another owner since epoch=%d", held.epoch)
            self._ownership = None
            self._settled.set()
        if holds:  # restoring can take a while: not inside the rebalance
            self._taking_over = asyncio.create_task(self._take_over_early())

    async def _take_over_early(self) -> None:
        """Take the stage over before the first batch asks; a server away leaves it to that
        batch (which waits the outage out)."""
        try:
            await self.ownership()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(
                "cluster stage takeover left to the next batch error=%s: %s",
                type(exc).__name__,
                exc,
            )

    async def on_revoked(self) -> None:
        """items.enriched is being taken away: no batch starts until the rebalance says
        whether it comes back; a worker that finds the stage taken over meanwhile (it was
        paused, or cut off), or cannot tell (PostgreSQL away), lets its memory go."""
        self._settled.clear()
        async with self._cluster_lock:
            self._assigned = False
            held = self._ownership
            if held is None:
                return
            epoch, owner = await self._owner_now()
            if epoch == held.epoch:
                return
            if owner is not None:
                log.warning(
                    "cluster stage not ours: taken over by %s at epoch=%d (this worker's "
                    "epoch=%d); standing down",
                    owner,
                    epoch,
                    held.epoch,
                )
            self._ownership = None

    async def _owner_now(self) -> tuple[int, str | None]:
        """The owner epoch and owner in PostgreSQL; (-1, None) while it is away (an epoch no
        owner holds: whoever asks lets its memory go)."""
        try:
            return await current_owner(await self.pool())
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("cluster stage owner unknown error=%s: %s", type(exc).__name__, exc)
            return -1, None

    async def stand_down(self, reason: str) -> None:
        """Drop the cluster stage's memory (fenced, or a failed batch): the next batch
        continues from the state in PostgreSQL, taken over anew."""
        async with self._cluster_lock:
            if self._ownership is not None:
                log.warning(
                    "cluster stage released epoch=%d reason=%s", self._ownership.epoch, reason
                )
            self._ownership = None

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

    async def results(self) -> PipelineStore:
        """The cluster stage's outcome rows."""
        return PipelineStore(await self.pool(), self.config.window_hours)

    async def close(self) -> None:
        """Close every connection."""
        await super().close()
        if self._qdrant is not None:
            await self._qdrant.close()
