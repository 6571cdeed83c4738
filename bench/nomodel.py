"""Benchmark 2, the pipeline WITHOUT THE MODEL (the fake hash embedder of bench/embedder.py):
items per second from items.raw to processed rows in PostgreSQL, against the broker's consume rate.

Usage: python bench/nomodel.py [--items N] [--warmup N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.broker import consume_rate, fresh_topic, produce_rate
from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow
from bench.items import bench_items, encoded
from bench.report import Report
from bench.workers import rss_mb, running, start_faust

SIZES = {"items": 3000, "warmup": 200}
TINY = {"items": 200, "warmup": 20}


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "nomodel", "Pipeline without the model (FAKE hash embedder)", sizes, args.repeat
    )
    report.notes.append("embedder: bench/embedder.py BenchHashEmbedder, a labelled fake (no model)")
    async with bench_env("nomodel") as settings:
        worker = start_faust("processor", settings, "bench.hash_processor")
        with running([worker]):
            report.add("processor_rss_rest", "MiB", rss_mb(worker.process.pid))
            flow = Flow(settings, [worker])
            await flow.round(sizes["warmup"])
            for run in range(args.repeat):
                messages = encoded(bench_items(sizes["items"], f"broker{run}"))
                topic = await fresh_topic(settings, f"broker.{run}")
                await produce_rate(settings, topic, messages)
                report.add(
                    "broker_consume", "msg/s", await consume_rate(settings, topic, len(messages))
                )
                rate, peaks = await flow.round(sizes["items"])
                report.add(
                    "pipeline_nomodel", "items/s", rate, "items.raw to processed rows, 1 worker"
                )
                report.add("processor_rss_load", "MiB", peaks[0])
    report.ratio("nomodel_vs_broker_consume", "pipeline_nomodel", "broker_consume")
    report.target(
        "pipeline without model >= 50% of broker consume", "nomodel_vs_broker_consume", at_least=0.5
    )
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
