"""Rebuilding the topics from the log, through the real processor: a dry run of the same
settings changes nothing; another setting replayed from items.enriched gives the topics a fresh
run of that setting gives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.processor.evaluate import CachedEmbedder, Labelled, embedding_store, evaluate
from services.processor.pipeline import PipelineConfig, load_embedder
from services.processor.pipeline.quality import adjusted_rand_index, clusters_with_singletons
from services.processor.rebuild import Shadow, read_enriched
from streams.config import Settings
from streams.requests.client import request_processing
from tests.support.corpus import CORPUS, load_corpus
from tests.support.processing import Feeder, spans
from tests.support.workers import Worker

pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
SAME = 0.98
"""A dry run at the processor's own settings agrees with the saved topics at least this well
(adjusted Rand index): the shadow's batches are not the live stage's, so a few items may land
otherwise."""
FRESH_MARGIN = 0.005
"""Another setting replayed from the log scores (ARI against the stories) within this of a
fresh in-memory run of that setting over the same corpus."""


async def test_a_dry_run_reports_the_saved_topics_and_another_setting_replays_as_a_fresh_run(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    corpus = load_corpus(CORPUS)
    settings = test_settings.model_copy(update={"processor_batch_within_s": 0.05})
    start_workers("processor", settings)
    started = datetime.now(UTC) - timedelta(minutes=1)
    async with Feeder(settings) as feeder:
        for number, span in enumerate(spans(corpus, hours=6)):
            await feeder.feed(span, f"rebuild-{number}")

    options = {"hours": 1, "top": 5}
    request = request_processing("rebuild_topics", options=options, settings=settings)
    async with await request as job:
        result = await job.result(timeout=240)
    print(f"\n{result}")
    assert (result["dry_run"], result["items"], result["undecodable"]) == (True, len(corpus), 0)
    assert result["agreement"] >= SAME
    assert abs(result["topics_after"] - result["topics_before"]) <= 1
    assert len(result["trends_before"]) == len(result["trends_after"]) == 5

    logged = await read_enriched(settings, started)
    assert sorted(item.item_id for item in logged.items) == sorted(e.item.key for e in corpus)
    other = replace(PipelineConfig(), join_threshold=0.6)
    embedder = CachedEmbedder(load_embedder(None, other.embed_batch_size), embedding_store(other))
    shadow = Shadow(other, embedder.dimension)
    shadow.replay(logged.items, settings.processor_batch_size)
    keys, stories = [e.item.key for e in corpus], [e.label for e in corpus]
    rebuilt = adjusted_rand_index(clusters_with_singletons(keys, shadow.topics(keys)), stories)
    labelled = [Labelled(e.item, e.label) for e in corpus]
    fresh = evaluate(labelled, other, embedder).ari
    print(f"join_threshold 0.6: rebuilt ARI {rebuilt:.4f}, fresh run {fresh:.4f}")
    assert abs(rebuilt - fresh) <= FRESH_MARGIN
