"""The trend pipeline in memory: the enrich and cluster stages wired in one process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.processor.pipeline.cluster import OnlineClusterer
from services.processor.pipeline.clustering import ClusterStage
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.dedupe import ExactDeduper
from services.processor.pipeline.embed import Embedder, load_embedder
from services.processor.pipeline.enrich import Enricher
from services.processor.pipeline.entities import EntityStats
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.pipeline.results import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)
from streams.messages.records import RawItem

__all__ = ["Pipeline"]


class Pipeline:
    """Both stages over batches of raw items, all state in memory: the evaluation command,
    the `test_pipeline` job and the tests run exactly what the processor's agents run, with
    an in-memory exact-duplicate memory where the agents use PostgreSQL.
    """

    def __init__(
        self, config: PipelineConfig | None = None, embedder: Embedder | None = None
    ) -> None:
        self.config = config or PipelineConfig()
        self.embedder = embedder or load_embedder(
            self.config.model_path, self.config.embed_batch_size
        )
        self.enricher = Enricher(self.config, self.embedder)
        self.exact = ExactDeduper(self.config.near_duplicate_capacity)
        self.cluster = ClusterStage(self.config, self.embedder.dimension, keep_archived=True)
        self.dropped: Counter[str] = Counter()

    def process(self, items: Sequence[RawItem]) -> BatchResult:
        """Run one batch through both stages; return outcomes and topic and trend snapshots."""
        kept, dropped = self.enricher.normalize(items)
        self.dropped.update(entry.reason.value for entry in dropped)
        originals = [self._exact_original(item) for item in kept]
        result = self.cluster.process(self.enricher.enrich(kept, originals))
        gone = [ItemOutcome(entry.item_id, dropped=entry.reason) for entry in dropped]
        result = replace(result, outcomes=gone + result.outcomes)
        if result.revivals:
            saved = self.cluster.clusterer.archived_states or {}
            wanted = {
                a: saved[a] for found in result.revivals.values() for a in found if a in saved
            }
            result = result.followed_by(self.cluster.revive(result.revivals, wanted))
        return result

    def _exact_original(self, item: NormalizedItem) -> str | None:
        original = self.exact.original_of(item)
        self.exact.remember(item, original or item.item_id)
        return original

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
