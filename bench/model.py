"""Benchmark 3, the pipeline with the real model: items per second from items.raw to processed
rows in PostgreSQL, beside the model's standalone batched encode rate on the same texts, on
both backends (sentence-transformers on torch, and ONNX Runtime on the model's export, written
to STATE_DIR/onnx or EMBEDDING_ONNX_PATH first if missing), taken in turn on the same cores.

Usage: python bench/model.py [--items N] [--warmup N] [--repeat N] [--tiny] [--out PATH]
                             [--encode-only] [--embed-batch N]
--encode-only measures the two encode rates alone (no servers); --embed-batch sets the texts per
forward pass of both (default PIPELINE_EMBED_BATCH_SIZE's default, 64).
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
from services.processor.export import export
from services.processor.pipeline import (
    Embedder,
    NormalizedItem,
    PipelineConfig,
    load_embedder,
    normalize,
)
from services.processor.pipeline.embed import model_source
from streams.config import load_settings, pipeline_config
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


def backends(embed_batch: int) -> dict[str, Embedder]:
    """The model on each backend, by its figure's name: sentence-transformers, and ONNX
    Runtime on the configured export (exported first when missing or stale)."""
    configured = pipeline_config(load_settings())
    folder = configured.onnx_path or "onnx"  # pipeline_config always sets it
    export(model_source(configured.model_path), Path(folder))
    return {
        "model_encode": load_embedder(None, embed_batch),
        "model_encode_onnx": load_embedder(None, embed_batch, "onnx", folder),
    }


def add_encode_rates(
    report: Report, embedders: dict[str, Embedder], texts: list[str], batch: int
) -> None:
    """One repeat of each backend's encode rate, one after the other on the same texts."""
    for name, embedder in embedders.items():
        backend = "onnx" if name.endswith("onnx") else "sentence-transformers"
        note = f"{backend}, in-process, batches of PROCESSOR_BATCH_SIZE"
        report.add(name, "items/s", encode_rate(embedder, texts, batch), note)


async def main() -> Report:
    cli = parser(__doc__, SIZES, TINY)
    cli.add_argument("--encode-only", action="store_true", help="the encode rates alone")
    cli.add_argument("--embed-batch", type=int, default=PipelineConfig().embed_batch_size)
    args = cli.parse_args()
    sizes = sizes_of(args)
    report = Report(
        "model", "Pipeline with the real model (all-MiniLM-L6-v2, CPU)", sizes, args.repeat
    )
    report.notes.append(f"texts per forward pass (embed batch): {args.embed_batch}")
    embedders = backends(args.embed_batch)
    texts = texts_of(sizes["items"], PipelineConfig())
    batch = load_settings().processor_batch_size
    for embedder in embedders.values():
        encode_rate(embedder, texts[:batch], batch)  # warm-up
    if args.encode_only:
        for _ in range(args.repeat):
            add_encode_rates(report, embedders, texts, batch)
    else:
        await _with_pipeline(report, embedders, texts, sizes, args.repeat)
    report.ratio("onnx_vs_torch_encode", "model_encode_onnx", "model_encode")
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


async def _with_pipeline(
    report: Report,
    embedders: dict[str, Embedder],
    texts: list[str],
    sizes: dict[str, int],
    repeat: int,
) -> None:
    async with bench_env("model") as settings:
        batch = settings.processor_batch_size
        worker = start_faust("processor", settings)
        with running([worker]):
            report.add("processor_rss_rest", "MiB", rss_mb(worker.process.pid))
            flow = Flow(settings, [worker])
            await flow.round(sizes["warmup"])  # loads the model
            for _ in range(repeat):
                add_encode_rates(report, embedders, texts, batch)
                rate, peaks = await flow.round(sizes["items"])
                report.add(
                    "pipeline_model", "items/s", rate, "items.raw to processed rows, 1 worker"
                )
                report.add("processor_rss_load", "MiB", peaks[0])
    own = "model_encode_onnx" if settings.embedding_backend == "onnx" else "model_encode"
    report.ratio("model_pipeline_vs_encode", "pipeline_model", own)  # the worker's backend
    report.target(
        "pipeline with model >= 90% of standalone encode", "model_pipeline_vs_encode", at_least=0.9
    )


if __name__ == "__main__":
    asyncio.run(main())
