"""Benchmark: items per second through the in-memory pipeline beside the model's own encode rate.

Usage: python bench/pipeline.py [--repeat N] [--batch N] [--items PATH]
Prints a markdown table and writes JSON under bench/results/ (git-ignored). Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.processor.pipeline import (
    NormalizedItem,
    Pipeline,
    PipelineConfig,
    load_embedder,
    normalize,
)
from streams.messages.items import embedding_text
from streams.messages.records import RawItem

CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "items.jsonl"
FIELDS = frozenset(RawItem._options.fields)


def load(path: Path) -> list[RawItem]:
    """The items of a JSONL file, in time order (extra keys such as labels are ignored)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    items = [RawItem.parse({k: v for k, v in row.items() if k in FIELDS}) for row in rows]
    return sorted(items, key=lambda item: item.published_at or item.collected_at)


def pipeline_rate(items: list[RawItem], batch: int, embedder: object) -> float:
    """Items per second through a fresh pipeline (every stage, no I/O)."""
    pipeline = Pipeline(PipelineConfig(), embedder=embedder)  # type: ignore[arg-type]
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        pipeline.process(items[start : start + batch])
    return len(items) / (time.perf_counter() - started)


def encode_rate(items: list[RawItem], batch: int, embedder: object) -> float:
    """Items per second of the model alone, on the texts the pipeline embeds, same batches."""
    config = PipelineConfig()
    cleaned = [normalize(item, config.language_sample_chars) for item in items]
    limit = config.embed_max_chars
    texts = [
        embedding_text(c.title, c.text, limit) for c in cleaned if isinstance(c, NormalizedItem)
    ]
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.encode(texts[start : start + batch])  # type: ignore[attr-defined]
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--items", type=Path, default=CORPUS)
    args = parser.parse_args()
    items = load(args.items)
    embedder = load_embedder(None, 64)
    encode_rate(items[:64], args.batch, embedder)  # warm-up
    pipes = [pipeline_rate(items, args.batch, embedder) for _ in range(args.repeat)]
    models = [encode_rate(items, args.batch, embedder) for _ in range(args.repeat)]
    figures = {
        "items": len(items),
        "batch": args.batch,
        "pipeline_items_per_s": statistics.median(pipes),
        "model_encode_items_per_s": statistics.median(models),
    }
    figures["ratio"] = figures["pipeline_items_per_s"] / figures["model_encode_items_per_s"]
    print(f"| measure | median of {args.repeat} |")
    print("| --- | --- |")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
