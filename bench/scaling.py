"""Benchmark 7, enrich scaling: 1 against 2 processor workers, fake embedder and real model."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow
from bench.report import Report
from bench.workers import running, start_faust, wait_settled
from streams.config import Settings

HELP = """Enrich scaling: items/s end to end (items.raw to processed rows) through one processor
worker, then two of one consumer group (the second joins the first: items.raw's 4 partitions
split 2/2, items.enriched's one partition, the cluster stage, goes to one of them), with
the FAKE hash embedder (bench/hash_processor.py) and then with the real model, each in a
namespace and database of its own.

Usage: python bench/scaling.py [--items N] [--warmup N] [--model-items N] [--model-warmup N]
                               [--repeat N] [--tiny] [--out PATH]
"""

SIZES = {"items": 3000, "warmup": 200, "model_items": 1000, "model_warmup": 100}
TINY = {"items": 200, "warmup": 20, "model_items": 100, "model_warmup": 20}
PARTITIONS = 4
"""items.raw partitions: a multiple of the workers (Faust gives a worker at most
ceil(partitions / workers) of a topic)."""


@dataclass(frozen=True)
class Kind:
    """One embedder's pair of figures: the worker module, the sizes and the figures' suffix."""

    module: str | None
    suffix: str
    items: str
    warmup: str
    note: str


FAKE = Kind("bench.hash_processor", "", "items", "warmup", "FAKE hash embedder")
MODEL = Kind(None, "_model", "model_items", "model_warmup", "real model")


async def measure(settings: Settings, report: Report, sizes: dict[str, int], kind: Kind) -> None:
    """One worker, then a second one joining its group: items/s end to end for each."""
    first = start_faust("processor", settings, kind.module)
    with running([first]):
        flow = Flow(settings, [first])
        await flow.round(sizes[kind.warmup])
        for _ in range(report.repeat):
            rate = (await flow.round(sizes[kind.items]))[0]
            report.add(f"one_worker{kind.suffix}", "items/s", rate, kind.note)
        second = start_faust("processor", settings, kind.module)
        with running([second]):
            wait_settled([first, second], settings)
            flow.workers = [first, second]
            await flow.round(sizes[kind.warmup])
            for _ in range(report.repeat):
                rate = (await flow.round(sizes[kind.items]))[0]
                report.add(f"two_workers{kind.suffix}", "items/s", rate, kind.note)
    report.ratio(
        f"two_vs_one_worker{kind.suffix}", f"two_workers{kind.suffix}", f"one_worker{kind.suffix}"
    )


async def main() -> Report:
    args = parser(HELP, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report("scaling", "Enrich scaling: 1 against 2 processor workers", sizes, args.repeat)
    for label, kind in (("scaling", FAKE), ("scalemodel", MODEL)):
        async with bench_env(label, topic_partitions=PARTITIONS) as settings:
            await measure(settings, report, sizes, kind)
    report.notes.append(
        "2 shared cores run Kafka, PostgreSQL, Redis, the bench and both workers; each worker "
        "has its own Qdrant folder; the cluster stage runs in one of them"
    )
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
