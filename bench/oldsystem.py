"""Benchmark 4, the old design side by side: normalize, dedupe and persist as Celery 5 tasks on
RabbitMQ with a Redis result backend, one task per item and batched, against trend-stream in the
same run, twice:
- same work (the like-for-like row): bench/samework_processor.py, a BENCH-ONLY Faust app doing
  only the tasks' normalize, content-hash dedupe and INSERT, per Faust batch, on items.raw;
- full pipeline: the real processor (FAKE hash embedder: the Celery tasks embed nothing either),
  which also embeds, clusters, scores, and writes topics, trends, state and vectors.
Equal cores: each trend-stream row runs 2 workers of one group, as Celery runs 2 pool processes.
Both are timed as benchmark 2: N RawItems produced to items.raw until N rows are in PostgreSQL.

Usage: python bench/oldsystem.py [--per-item N] [--batched N] [--batch N] [--items N]
                                 [--same-work-items N] [--warmup N] [--repeat N] [--tiny]
                                 [--out PATH]
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
from bench.workers import PeakRss, rss_mb, running, start_faust, wait_settled
from streams.config import Settings
from streams.messages.records import RawItem

SIZES = {
    "per_item": 2000,
    "batched": 10000,
    "batch": 100,
    "items": 3000,
    "same_work_items": 10000,
    "warmup": 200,
}
TINY = {
    "per_item": 100,
    "batched": 200,
    "batch": 100,
    "items": 200,
    "same_work_items": 200,
    "warmup": 20,
}
_FIELDS = frozenset(RawItem._options.fields)
WORKERS = 2
"""Trend-stream workers per row: as many as the Celery worker's pool processes (equal cores)."""
PARTITIONS = 4
"""items.raw partitions: a multiple of WORKERS (Faust gives a worker at most ceil(p / w))."""


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
    cluster: bool = True
    """Whether the module runs the cluster stage (on items.enriched)."""
    items: str = "items"
    """The size giving the items of a round."""


async def measure_faust(
    settings: Settings, report: Report, sizes: dict[str, int], *, sent: int, run: Run
) -> None:
    """One trend-stream figure: as many Faust workers (module `run.module`) of one group as
    Celery has pool processes, through benchmark 2's flow."""
    workers = [start_faust("processor", settings, run.module) for _ in range(WORKERS)]
    with running(workers):
        wait_settled(workers, settings, cluster=run.cluster)
        flow = Flow(settings, workers, label=run.figure[:4])
        flow.sent = sent
        await flow.round(sizes["warmup"])
        for _ in range(report.repeat):
            rate, peaks = await flow.round(sizes[run.items])
            report.add(run.figure, "items/s", rate, run.note)
            report.add(f"{run.figure}_rss_load", "MiB", sum(peaks), f"{WORKERS} workers")


SAME_WORK = Run(
    "trend_stream_same_work",
    "bench.samework_processor",
    "trend-stream, same work (normalize, dedupe, persist), 2 workers; bench-only Faust app",
    cluster=False,
    items="same_work_items",
)
FULL_PIPELINE = Run(
    "trend_stream_full_pipeline",
    "bench.hash_processor",
    "trend-stream, full pipeline (processor, FAKE hash embedder), 2 workers",
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
    async with bench_env("celery", topic_partitions=PARTITIONS) as settings:
        rows = await measure_celery(settings, report, sizes, args.repeat)
        await measure_faust(settings, report, sizes, sent=rows, run=FULL_PIPELINE)
    async with bench_env("samework", topic_partitions=PARTITIONS) as settings:  # fresh items.raw
        await measure_faust(settings, report, sizes, sent=0, run=SAME_WORK)
    for run in (SAME_WORK, FULL_PIPELINE):
        for celery in ("per_item", "batched"):
            report.ratio(f"{run.figure}_vs_celery_{celery}", run.figure, f"celery_{celery}")
    for celery, goal, what in (("per_item", 5, "per item"), ("batched", 1.5, "batched")):
        ratio = f"{SAME_WORK.figure}_vs_celery_{celery}"
        report.target(f"same work, equal cores: >= {goal}x Celery {what}", ratio, at_least=goal)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
