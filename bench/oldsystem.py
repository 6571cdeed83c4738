"""Benchmark 4, the old design side by side: normalize, dedupe and persist as Celery 5 tasks on
RabbitMQ with a Redis result backend, one task per item and batched, against trend-stream in the
same run, twice:
- same work (the like-for-like row): bench/samework_processor.py, a BENCH-ONLY Faust app doing
  only the tasks' normalize, content-hash dedupe and INSERT, per Faust batch, on items.raw;
- full pipeline: the real processor (FAKE hash embedder: the Celery tasks embed nothing either),
  which also embeds, clusters, scores, and writes topics, trends, state and vectors.
Both are timed as benchmark 2: N RawItems produced to items.raw until N rows are in PostgreSQL.

Usage: python bench/oldsystem.py [--per-item N] [--batched N] [--batch N] [--items N]
                                 [--warmup N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import rabbitmq
from bench.celery_worker import celery_env, celery_worker
from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow, wait_processed
from bench.items import bench_items
from bench.report import Report
from bench.workers import PeakRss, rss_mb, running, start_faust
from streams.config import Settings
from streams.records import RawItem

SIZES = {"per_item": 2000, "batched": 5000, "batch": 100, "items": 3000, "warmup": 200}
TINY = {"per_item": 100, "batched": 200, "batch": 100, "items": 200, "warmup": 20}
_FIELDS = frozenset(RawItem._options.fields)


def payloads(count: int, run: str) -> list[dict[str, object]]:
    """Bench items as the JSON a Celery task receives."""
    rows = [json.loads(item.dumps()) for item in bench_items(count, run)]
    return [{k: v for k, v in row.items() if k in _FIELDS} for row in rows]


class Celery:
    """Timed rounds of tasks; every round's items land as rows in the run's database."""

    def __init__(self, settings: Settings, queue: str) -> None:
        from bench import celery_app

        self.settings = settings
        self.queue = queue
        self.tasks = celery_app
        self.rows = 0
        self.rounds = 0

    async def per_item(self, count: int) -> float:
        """Items per second, one task per item: first .delay() to the last row in PostgreSQL."""
        items = self._next(count)
        started = time.perf_counter()
        for payload in items:
            self.tasks.ingest_item.apply_async((payload,), queue=self.queue)
        return await self._done(count, started)

    async def batched(self, count: int, batch: int) -> float:
        """Items per second, one task per `batch` items."""
        items = self._next(count)
        started = time.perf_counter()
        for start in range(0, count, batch):
            self.tasks.ingest_batch.apply_async((items[start : start + batch],), queue=self.queue)
        return await self._done(count, started)

    def _next(self, count: int) -> list[dict[str, object]]:
        self.rounds += 1
        return payloads(count, f"celery{self.rounds}")

    async def _done(self, count: int, started: float) -> float:
        self.rows += count
        await wait_processed(self.settings, self.rows)
        return count / (time.perf_counter() - started)


async def measure_celery(
    settings: Settings, report: Report, sizes: dict[str, int], repeat: int
) -> int:
    """The Celery figures; returns how many rows they wrote."""
    rabbit = rabbitmq.up()
    queue = celery_env(settings, rabbit)["BENCH_CELERY_QUEUE"]
    with celery_worker(settings, rabbit) as process:
        report.add("celery_worker_rss_rest", "MiB", rss_mb(process.pid), "main + 2 pool processes")
        celery = Celery(settings, queue)
        celery.tasks.app.conf.broker_url = rabbit.url
        await celery.batched(sizes["warmup"], sizes["batch"])
        with PeakRss(process.pid) as peak:
            for _ in range(repeat):
                report.add("celery_per_item", "items/s", await celery.per_item(sizes["per_item"]))
                report.add(
                    "celery_batched",
                    "items/s",
                    await celery.batched(sizes["batched"], sizes["batch"]),
                )
        report.add("celery_worker_rss_load", "MiB", peak.peak, "main + 2 pool processes")
    return celery.rows


@dataclass(frozen=True)
class Run:
    """A trend-stream worker to time: its figure, Faust module and note."""

    figure: str
    module: str
    note: str


async def measure_faust(
    settings: Settings, report: Report, sizes: dict[str, int], repeat: int, *, sent: int, run: Run
) -> None:
    """One trend-stream figure: a Faust worker (module `run.module`) through benchmark 2's flow."""
    worker = start_faust("processor", settings, run.module)
    with running([worker]):
        flow = Flow(settings, [worker])
        flow.sent = sent
        await flow.round(sizes["warmup"])
        for _ in range(repeat):
            report.add(run.figure, "items/s", (await flow.round(sizes["items"]))[0], run.note)


SAME_WORK = Run(
    "trend_stream_same_work",
    "bench.samework_processor",
    "trend-stream, same work (normalize, dedupe, persist); bench-only Faust app",
)
FULL_PIPELINE = Run(
    "trend_stream_full_pipeline",
    "bench.hash_processor",
    "trend-stream, full pipeline (processor, FAKE hash embedder)",
)


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "oldsystem",
        "The Celery design (RabbitMQ, Redis results) against trend-stream",
        sizes,
        args.repeat,
    )
    async with bench_env("celery") as settings:
        rows = await measure_celery(settings, report, sizes, args.repeat)
        await measure_faust(settings, report, sizes, args.repeat, sent=rows, run=FULL_PIPELINE)
    async with bench_env("samework") as settings:  # fresh items.raw: nothing read twice
        await measure_faust(settings, report, sizes, args.repeat, sent=0, run=SAME_WORK)
    for run, label in ((SAME_WORK, "same work"), (FULL_PIPELINE, "full pipeline")):
        for celery, goal, what in (("per_item", 5, "per item"), ("batched", 1.5, "batched")):
            ratio = f"{run.figure}_vs_celery_{celery}"
            report.ratio(ratio, run.figure, f"celery_{celery}")
            report.target(f"{label}: >= {goal}x Celery {what}", ratio, at_least=goal)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
