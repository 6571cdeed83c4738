"""The trend pipeline in memory: the enrich and cluster steps over in-memory ports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.processor.pipeline.cluster import OnlineClusterer
from services.processor.pipeline.clustering import ClusterStage
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.dedupe import ExactDeduper
from services.processor.pipeline.embed import Embedder, embedder_for
from services.processor.pipeline.enrich import Enriched, Enricher
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.pipeline.results import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)
from services.processor.pipeline.steps import (
    cluster_batch,
    enrich_batch,
    run_inline,
    unplaced,
)
from streams.messages.records import ProcessingReport, RawItem

__all__ = ["MemoryRows", "MemoryStage", "Pipeline"]


class MemoryRows:
    """The steps' ItemRows in memory: nothing stored, exact repeats remembered (bounded)."""

    def __init__(self, capacity: int) -> None:
        self.exact = ExactDeduper(capacity)

    async def save(self, items: Sequence[RawItem], hashes: Mapping[str, str]) -> set[str]:
        """Nothing is stored: no item is new for a request."""
        return set()

    async def processed(self, keys: Sequence[str]) -> set[str]:
        """No item is marked processed (a repeated one is found by the cluster stage)."""
        return set()

    async def drop(self, reasons: Mapping[str, str]) -> None:
        """Nothing to mark."""

    async def originals(
        self, items: Sequence[NormalizedItem], hashes: Mapping[str, str]
    ) -> list[str | None]:
        """Each item's original (same id or content seen before), remembering it in turn."""
        return [self._original(item) for item in items]

    def _original(self, item: NormalizedItem) -> str | None:
        original = self.exact.original_of(item)
        self.exact.remember(item, original or item.item_id)
        return original

    async def topics_of(self, keys: Sequence[str]) -> dict[str, str]:
        """No saved topics: the stage remembers every item it placed."""
        return {}


class MemoryStage:
    """The steps' StageStore, VectorSink and Publisher in memory: nothing saved or sent;
    archived topics are read back from the stage's own memory of them."""

    def __init__(self, stage: ClusterStage) -> None:
        self.stage = stage

    async def save(self, result: BatchResult | Sequence[Enriched]) -> None:
        """Nothing to write (the state stays pending: see Pipeline.state_changes)."""

    async def archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The archived topics' states kept by the stage (keep_archived), by id."""
        saved = self.stage.clusterer.archived_states or {}
        return {topic: saved[topic] for topic in topic_ids if topic in saved}

    async def enriched(
        self, items: Sequence[Enriched], requests: Mapping[str, str | None], new: set[str]
    ) -> None:
        """Nothing to send: the Pipeline hands the items to the cluster step itself."""

    async def reports(self, batch: Sequence[ProcessingReport]) -> None:
        """Nothing to send."""


class Pipeline:
    """Both stages over batches of raw items, all state in memory: the evaluation command,
    the `test_pipeline` job, the benches and the tests call the steps the processor's agents
    call (steps.enrich_batch, unplaced, cluster_batch), on in-memory ports where the agents
    pass PostgreSQL, Qdrant and Kafka.
    """

    def __init__(
        self, config: PipelineConfig | None = None, embedder: Embedder | None = None
    ) -> None:
        self.config = config or PipelineConfig()
        self.embedder = embedder or embedder_for(self.config)
        self.enricher = Enricher(self.config, self.embedder)
        self.rows = MemoryRows(self.config.near_duplicate_capacity)
        self.exact = self.rows.exact
        self.cluster = ClusterStage(self.config, self.embedder.dimension, keep_archived=True)
        self.dropped: Counter[str] = Counter()

    def process(self, items: Sequence[RawItem]) -> BatchResult:
        """Run one batch through both steps; return outcomes and topic and trend snapshots."""
        return run_inline(self._process(items))

    async def _process(self, items: Sequence[RawItem]) -> BatchResult:
        memory = MemoryStage(self.cluster)
        batch = await enrich_batch(items, self.enricher, self.rows, memory, memory)
        self.dropped.update(entry.reason.value for entry in batch.dropped)
        fresh, known, _ = await unplaced(self.cluster, batch.enriched, self.rows)
        result = await cluster_batch(self.cluster, fresh, known, memory)
        gone = [ItemOutcome(entry.item_id, dropped=entry.reason) for entry in batch.dropped]
        return replace(result, outcomes=gone + result.outcomes)

    @property
    def clusterer(self) -> OnlineClusterer:
        """The cluster stage's topics."""
        return self.cluster.clusterer

    @property
    def stats(self) -> EntityStats:
        """The cluster stage's entity statistics."""
        return self.cluster.stats

    @property
    def now(self) -> datetime | None:
        """The pipeline's clock: the latest item time seen."""
        return self.cluster.now

    @property
    def duplicates(self) -> int:
        """Items found to repeat another (exactly or nearly)."""
        return self.cluster.duplicates

    def topic_of(self, item_id: str) -> str | None:
        """The counted topic (at least `min_topic_size` members) an item belongs to, if any."""
        return self.cluster.topic_of(item_id)

    def topics(self) -> list[TopicSnapshot]:
        """Every counted topic, largest first."""
        return self.cluster.topics()

    def trends(self) -> list[TrendSnapshot]:
        """The trend of every counted topic at the latest item's time, highest score first."""
        return self.cluster.trends()

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of what the cluster stage learnt (see ClusterStage.state)."""
        return self.cluster.state()

    def state_changes(self) -> StateChanges:
        """What changed since the last acknowledged save (see state_saved)."""
        return self.cluster.state_changes()

    def state_saved(self, changes: StateChanges) -> None:
        """Acknowledge that `changes` were saved (a failed save keeps them pending)."""
        self.cluster.state_saved(changes)

    def restore(self, state: dict[str, Any], *, saved: bool = True) -> None:
        """Continue from a saved state (see ClusterStage.restore)."""
        self.cluster.restore(state, saved=saved)
