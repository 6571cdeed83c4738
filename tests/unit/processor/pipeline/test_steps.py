"""The steps the agents call, on fake ports: what is stored, skipped, embedded, sent, saved."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.processor.pipeline import (
    BatchResult,
    ClusterStage,
    Enriched,
    Enricher,
    HashingEmbedder,
    PipelineConfig,
)
from services.processor.pipeline.normalize import NormalizedItem
from services.processor.pipeline.steps import (
    cluster_batch,
    enrich_batch,
    run_inline,
    unplaced,
)
from streams.messages.records import ProcessingReport, RawItem
from tests.factories import make_item

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
OUTAGE = [
    "Nimbus Cloud outage takes down us-east apps",
    "Nimbus Cloud outage takes down us-east websites",
    "Nimbus Cloud outage in us-east takes down banks",
]


class FakeRows:
    """Stored rows: keys processed already, first item of each content hash, saved topics."""

    def __init__(self, topics: dict[str, str] | None = None) -> None:
        self.done: set[str] = set()
        self.first: dict[str, str] = {}
        self.dropped: dict[str, str] = {}
        self.saved_topics = topics or {}
        self.asked_topics: list[str] = []

    async def save(self, items: Sequence[RawItem], hashes: Mapping[str, str]) -> set[str]:
        for item in items:
            if item.key in hashes:
                self.first.setdefault(hashes[item.key], item.key)
        return {item.key for item in items}

    async def processed(self, keys: Sequence[str]) -> set[str]:
        return self.done & set(keys)

    async def drop(self, reasons: Mapping[str, str]) -> None:
        self.dropped.update(reasons)

    async def originals(
        self, items: Sequence[NormalizedItem], hashes: Mapping[str, str]
    ) -> list[str | None]:
        found = (self.first.get(hashes[item.item_id]) for item in items)
        return [o if o != i.item_id else None for i, o in zip(items, found, strict=True)]

    async def topics_of(self, keys: Sequence[str]) -> dict[str, str]:
        self.asked_topics.extend(keys)
        return {key: self.saved_topics[key] for key in keys if key in self.saved_topics}


class FakeOut:
    """Vectors kept, messages sent and batches saved."""

    def __init__(self) -> None:
        self.vectors: list[str] = []
        self.sent: list[str] = []
        self.reported: list[ProcessingReport] = []
        self.saved: list[BatchResult] = []

    async def save(self, batch: Any) -> None:
        if isinstance(batch, BatchResult):
            self.saved.append(batch)
        else:
            self.vectors.extend(e.item_id for e in batch if e.vector is not None)

    async def archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {}

    async def enriched(
        self, items: Sequence[Enriched], requests: Mapping[str, str | None], new: set[str]
    ) -> None:
        self.sent.extend(item.item_id for item in items)

    async def reports(self, batch: Sequence[ProcessingReport]) -> None:
        self.reported.extend(batch)


@pytest.fixture
def enricher() -> Enricher:
    return Enricher(PipelineConfig(), HashingEmbedder())


def _item(title: str, minutes: int, **fields: Any) -> RawItem:
    return make_item(title=title, published_at=T0 + timedelta(minutes=minutes), **fields)


def test_the_enrich_step_sends_on_only_what_the_cluster_stage_has_not_seen(
    enricher: Enricher,
) -> None:
    first, again, repeat = _item(OUTAGE[0], 0), _item(OUTAGE[1], 1), _item(OUTAGE[0], 2)
    empty = make_item(title="<p> </p>", text="", request_id="r1")
    rows, out = FakeRows(), FakeOut()
    rows.done = {again.key}
    batch = run_inline(enrich_batch([first, again, repeat, empty], enricher, rows, out, out))
    assert [e.item_id for e in batch.enriched] == out.sent == [first.key, repeat.key]
    assert batch.enriched[1].duplicate_of == first.key and batch.enriched[1].vector is None
    assert out.vectors == [first.key]  # an exact repeat is not embedded
    assert batch.done == {again.key} and rows.dropped == {empty.key: "empty"}
    [report] = out.reported  # the dropped item is finished here; the others go on
    assert (report.request_id, report.keys, report.stage) == ("r1", [empty.key], "enrich")


def test_the_cluster_step_skips_processed_items_and_saves_the_batch_once(
    enricher: Enricher,
) -> None:
    items = [_item(title, minutes=10 * n) for n, title in enumerate(OUTAGE)]
    rows, out = FakeRows(), FakeOut()
    enriched = run_inline(enrich_batch(items, enricher, rows, out, out)).enriched
    stage = ClusterStage(PipelineConfig(), HashingEmbedder().dimension)
    rows.done = {items[2].key}
    fresh, known, done = run_inline(unplaced(stage, enriched, rows))
    assert [e.item_id for e in fresh] == [items[0].key, items[1].key] and done == {items[2].key}
    result = run_inline(cluster_batch(stage, fresh, known, out))
    assert out.saved == [result] and len(result.outcomes) == 2


def test_originals_the_restored_stage_forgot_are_looked_up_in_the_saved_topics(
    enricher: Enricher,
) -> None:
    original, repeat = _item(OUTAGE[0], 0), _item(OUTAGE[0], 5)
    rows, out = FakeRows(topics={original.key: "t-saved"}), FakeOut()
    run_inline(enrich_batch([original], enricher, rows, out, out))
    [copy] = run_inline(enrich_batch([repeat], enricher, rows, out, out)).enriched
    stage = ClusterStage(PipelineConfig(), HashingEmbedder().dimension)  # remembers nothing
    fresh, known, _ = run_inline(unplaced(stage, [copy], rows))
    assert rows.asked_topics == [original.key] and known == {original.key: "t-saved"}
    [outcome] = run_inline(cluster_batch(stage, fresh, known, out)).outcomes
    assert (outcome.duplicate_of, outcome.topic_id) == (original.key, "t-saved")


def test_a_step_whose_port_waits_is_refused_in_memory() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="not in memory"):
        run_inline(waits())
