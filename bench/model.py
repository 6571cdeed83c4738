"""Benchmark 3, the pipeline with the real model: items per second from items.raw to processed
rows in PostgreSQL, beside the model's standalone batched encode rate on the same texts.

Usage: python bench/model.py [--items N] [--warmup N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow
from bench.items import bench_items
from bench.report import Report
from bench.workers import rss_mb, running, start_faust
from services.processor.pipeline import (
    Embedder,
    NormalizedItem,
    PipelineConfig,
    load_embedder,
    normalize,
)
from streams.messages.items import embedding_text

SIZES = {"items": 1000, "warmup": 100}
TINY = {"items": 100, "warmup": 20}


def texts_of(count: int, config: PipelineConfig) -> list[str]:
    """The texts the pipeline embeds for `count` bench items (normalised, cut as it cuts them)."""
    cleaned = [normalize(item, config.language_sample_chars) for item in bench_items(count, "enc")]
    limit = config.embed_max_chars
    return [
        embedding_text(c.title, c.text, limit) for c in cleaned if isinstance(c, NormalizedItem)
    ]


def encode_rate(embedder: Embedder, texts: list[str], batch: int) -> float:
    """Texts per second of the model alone, in the processor's batches."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.encode(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "model", "Pipeline with the real model (all-MiniLM-L6-v2, CPU)", sizes, args.repeat
    )
    config = PipelineConfig()
    embedder = load_embedder(None, config.embed_batch_size)
    texts = texts_of(sizes["items"], config)
    async with bench_env("model") as settings:
        batch = settings.processor_batch_size
        encode_rate(embedder, texts[:batch], batch)  # warm-up
        worker = start_faust("processor", settings)
        with running([worker]):
            report.add("processor_rss_rest", "MiB", rss_mb(worker.process.pid))
            flow = Flow(settings, [worker])
            await flow.round(sizes["warmup"])  # loads the model
            for _ in range(args.repeat):
                report.add(
                    "model_encode",
                    "items/s",
                    encode_rate(embedder, texts, batch),
                    "in-process, batches of PROCESSOR_BATCH_SIZE",
                )
                rate, peaks = await flow.round(sizes["items"])
                report.add(
                    "pipeline_model", "items/s", rate, "items.raw to processed rows, 1 worker"
                )
                report.add("processor_rss_load", "MiB", peaks[0])
    report.ratio("model_pipeline_vs_encode", "pipeline_model", "model_encode")
    report.target(
        "pipeline with model >= 90% of standalone encode", "model_pipeline_vs_encode", at_least=0.9
    )
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
