"""Arrival orders: spans kept in time order, each span shuffled and cut into small batches."""

from __future__ import annotations

import random

from services.processor.evaluate import Labelled, evaluate
from services.processor.orders import MAX_BATCH, SPAN_HOURS, shuffled, spread
from services.processor.pipeline import HashingEmbedder, PipelineConfig
from services.processor.pipeline.normalize import item_time
from tests.support.corpus import load_corpus


def _corpus() -> list[Labelled]:
    return [Labelled(entry.item, entry.label) for entry in load_corpus()]


def _span(entry: Labelled) -> int:
    return int(item_time(entry.item).timestamp() // (3600 * SPAN_HOURS))


def test_an_order_keeps_every_item_once_and_the_spans_in_time_order() -> None:
    corpus = _corpus()
    batches = shuffled(corpus, random.Random(3))
    fed = [entry for batch in batches for entry in batch]
    assert sorted(e.item.key for e in fed) == sorted(e.item.key for e in corpus)
    assert [_span(e) for e in fed] == sorted(_span(e) for e in fed)  # spans in time order
    assert all(
        1 <= len(batch) <= MAX_BATCH and len({_span(e) for e in batch}) == 1 for batch in batches
    )
    assert fed != sorted(fed, key=lambda e: item_time(e.item))  # shuffled within the spans
    assert shuffled(corpus, random.Random(3)) == batches  # a seed gives its order again


def test_the_spread_starts_from_the_time_order_evaluation() -> None:
    corpus, config = _corpus(), PipelineConfig()
    found = spread(corpus, config, HashingEmbedder(), orders=2)
    assert found.time_order == evaluate(corpus, config, HashingEmbedder()).ari
    assert len(found.orders) == 2
    assert found.gap == max(abs(ari - found.time_order) for ari in found.orders)
