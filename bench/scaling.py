"""Benchmark 7, enrich scaling: 1 against 2 processor workers, fake embedder and real model
(its default threads, and one thread per worker)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow
from bench.report import Report
from bench.workers import Worker, running, start_faust, wait_settled
from streams.config import Settings

HELP = """Enrich scaling: items/s end to end (items.raw to processed rows) through one processor
worker, then two of one consumer group (the second joins the first: items.raw's 4 partitions
split 2/2, items.enriched's one partition, the cluster stage, goes to one of them), with
the FAKE hash embedder (bench/hash_processor.py), then with the real model on its default
threads (a thread per core in each worker), then on one thread per worker
(PIPELINE_EMBED_THREADS=1), each in a namespace and database of its own; with each round, the
share of the round's time each worker was busy on a core (its CPU time over the round's).

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
    threads: int = 0
    """PIPELINE_EMBED_THREADS of the workers (0: the library's choice)."""


FAKE = Kind("bench.hash_processor", "", "items", "warmup", "FAKE hash embedder")
MODEL = Kind(None, "_model", "model_items", "model_warmup", "real model")
MODEL_ONE = Kind(
    None, "_model_1t", "model_items", "model_warmup", "real model, one thread a worker", 1
)


async def _round(flow: Flow, count: int, workers: list[Worker]) -> tuple[float, list[float]]:
    """Items/s of one round, and each worker's busy share (CPU seconds per second of it)."""
    processes = [psutil.Process(worker.process.pid) for worker in workers]
    before = [sum(process.cpu_times()[:2]) for process in processes]
    rate = (await flow.round(count))[0]
    took = count / rate
    spent = [sum(p.cpu_times()[:2]) - b for p, b in zip(processes, before, strict=True)]
    return rate, [cpu / took for cpu in spent]


async def measure(settings: Settings, report: Report, sizes: dict[str, int], kind: Kind) -> None:
    """One worker, then a second one joining its group: items/s end to end for each, and
    each worker's busy share."""
    if kind.threads:
        settings = settings.model_copy(update={"pipeline_embed_threads": kind.threads})
    first = start_faust("processor", settings, kind.module)
    with running([first]):
        flow = Flow(settings, [first])
        await flow.round(sizes[kind.warmup])
        for _ in range(report.repeat):
            rate, busy = await _round(flow, sizes[kind.items], [first])
            report.add(f"one_worker{kind.suffix}", "items/s", rate, kind.note)
            report.add(f"one_worker{kind.suffix}_busy", "cores", busy[0], kind.note)
        second = start_faust("processor", settings, kind.module)
        with running([second]):
            wait_settled([first, second], settings)
            flow.workers = [first, second]
            await flow.round(sizes[kind.warmup])
            for _ in range(report.repeat):
                rate, busy = await _round(flow, sizes[kind.items], [first, second])
                report.add(f"two_workers{kind.suffix}", "items/s", rate, kind.note)
                for number, share in enumerate(busy, 1):
                    report.add(f"two_workers{kind.suffix}_busy_{number}", "cores", share)
    report.ratio(
        f"two_vs_one_worker{kind.suffix}", f"two_workers{kind.suffix}", f"one_worker{kind.suffix}"
    )


async def main() -> Report:
    args = parser(HELP, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report("scaling", "Enrich scaling: 1 against 2 processor workers", sizes, args.repeat)
    for label, kind in (("scaling", FAKE), ("scalemodel", MODEL), ("scaleone", MODEL_ONE)):
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
