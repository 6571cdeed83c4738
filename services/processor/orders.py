"""`python -m services.processor.orders`: how far arrival order moves each corpus's ARI.

Each labelled corpus of tests/fixtures/corpora.json is fed as live sources and several enrich
workers may deliver it: spans of SPAN_HOURS of item time in time order, each span's items
shuffled and cut into batches of 1 to MAX_BATCH, ORDERS times with fixed seeds. The table gives
the ARI in time order (hourly batches, as `evaluate` feeds it) and the lowest, median and
highest over the orders, and how far the farthest order is from time order (issue 22's bound:
0.01).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.processor.corpora import MANIFEST, available, manifest
from services.processor.evaluate import (
    CachedEmbedder,
    Enrichments,
    Labelled,
    embedding_store,
    evaluate,
)
from services.processor.pipeline import Embedder, PipelineConfig, embedder_for
from services.processor.pipeline.normalize import item_time

__all__ = ["BOUND", "MAX_BATCH", "ORDERS", "SPAN_HOURS", "Spread", "main", "shuffled", "spread"]

SPAN_HOURS = 3
ORDERS = 16
MAX_BATCH = 40
BOUND = 0.01
"""How far from time order any order may move the ARI (issue 22, "Order")."""


def shuffled(
    corpus: Sequence[Labelled], rng: random.Random, span_hours: int = SPAN_HOURS
) -> list[list[Labelled]]:
    """The corpus in spans of `span_hours` of item time (the spans in time order), each span's
    items shuffled and cut into batches of 1 to MAX_BATCH."""
    spans: defaultdict[int, list[Labelled]] = defaultdict(list)
    for entry in corpus:
        spans[int(item_time(entry.item).timestamp() // (3600 * span_hours))].append(entry)
    batches: list[list[Labelled]] = []
    for key in sorted(spans):
        span = list(spans[key])
        rng.shuffle(span)
        while span:
            size = rng.randint(1, MAX_BATCH)
            batches.append(span[:size])
            span = span[size:]
    return batches


@dataclass(frozen=True)
class Spread:
    """A corpus's ARI in time order and over the shuffled orders."""

    time_order: float
    orders: tuple[float, ...]

    @property
    def gap(self) -> float:
        """How far the farthest order is from time order."""
        return max(abs(ari - self.time_order) for ari in self.orders)

    def line(self, name: str) -> str:
        """One row of the table."""
        low, mid, high = min(self.orders), statistics.median(self.orders), max(self.orders)
        return f"{name:13}  {self.time_order:.4f}  {low:.4f}  {mid:.4f}  {high:.4f}  {self.gap:.4f}"


def spread(
    corpus: Sequence[Labelled],
    config: PipelineConfig,
    embedder: Embedder,
    orders: int = ORDERS,
    enrichments: Enrichments | None = None,
) -> Spread:
    """The corpus's ARI in time order and in `orders` shuffled orders (seeds 0, 1, ...)."""
    at = evaluate(corpus, config, embedder, enrichments).ari
    found = [
        evaluate(corpus, config, embedder, batches=shuffled(corpus, random.Random(seed))).ari
        for seed in range(orders)
    ]
    return Spread(at, tuple(found))


def main(argv: list[str] | None = None) -> int:
    """Print the table for every corpus of the manifest that is present."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--orders", type=int, default=ORDERS)
    args = parser.parse_args(argv)
    config = PipelineConfig()
    embedder = CachedEmbedder(embedder_for(config), embedding_store(config))
    print("corpus         time     lowest   median   highest  gap")
    within = 0
    listed = available(manifest(args.manifest))
    try:
        for corpus in listed:
            found = spread(corpus.load(), config, embedder, args.orders, Enrichments())
            within += found.gap <= BOUND
            print(found.line(corpus.name), flush=True)
    finally:
        embedder.save()
    print(f"within {BOUND} of time order in every order: {within} of {len(listed)} corpora")
    return 0


if __name__ == "__main__":
    sys.exit(main())
