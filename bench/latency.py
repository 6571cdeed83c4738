"""Benchmark 5, latency: a dry run of the `file` plugin from the trigger on collect.requests to
SUCCESS on collect.results (p50, p95, p99), and the Celery equivalent, `.delay()` to `.get()`.

Requests go one at a time, so the figures are latency, not queueing.
Usage: python bench/latency.py [--requests N] [--warmup N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import rabbitmq
from bench.celery_worker import celery_env, celery_worker
from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.items import corpus
from bench.report import Report
from bench.workers import PeakRss, rss_mb, running, start_faust
from streams.config import Settings
from streams.messages.records import RequestStatus
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS

SIZES = {"requests": 500, "warmup": 20, "file_items": 20}
TINY = {"requests": 30, "warmup": 3, "file_items": 20}


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def write_file(folder: Path, count: int) -> Path:
    """The JSONL file the dry runs read (corpus items), inside FILE_PLUGIN_DIR."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "items.jsonl"
    path.write_text("".join(item.dumps().decode() + "\n" for item in corpus()[:count]))
    return path


class Trigger:
    """Plain aiokafka: a CollectRequest produced, its SUCCESS read back."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False
        )

    async def __aenter__(self) -> Trigger:
        await self.producer.start()
        await self.consumer.start()
        topic = COLLECT_RESULTS.full_name(self.settings)
        self.consumer.assign(
            [TopicPartition(topic, p) for p in range(self.settings.topic_partitions)]
        )
        await self.consumer.seek_to_end()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()
        await self.consumer.stop()

    async def once(self) -> float:
        """Seconds from the send to the SUCCESS status of one dry run."""
        request_id = uuid.uuid4().hex
        body = {
            "plugin": "file",
            "request_id": request_id,
            "dry_run": True,
            "options": {"path": "items.jsonl"},
        }
        started = time.perf_counter()
        await self.producer.send_and_wait(
            COLLECT_REQUESTS.full_name(self.settings),
            json.dumps(body).encode(),
            key=request_id.encode(),
        )
        while True:
            batches = await self.consumer.getmany(timeout_ms=5000)
            for record in (r for batch in batches.values() for r in batch):
                status = RequestStatus.parse(record.value)
                if status.request_id == request_id and status.state.is_final:
                    if status.state != "SUCCESS":
                        raise RuntimeError(f"dry run ended {status.state}: {status.error}")
                    return time.perf_counter() - started
            if time.perf_counter() - started > 60:
                raise TimeoutError(f"no final status for {request_id} in 60 s")


async def trend_stream(
    settings: Settings, report: Report, sizes: dict[str, int], repeat: int
) -> None:
    """Collector dry runs, one at a time."""
    worker = start_faust("collector", settings)
    with running([worker]):
        report.add("collector_rss_rest", "MiB", rss_mb(worker.process.pid))
        async with Trigger(settings) as trigger:
            for _ in range(sizes["warmup"]):
                await trigger.once()
            with PeakRss(worker.process.pid) as peak:
                for _ in range(repeat):
                    samples = [await trigger.once() for _ in range(sizes["requests"])]
                    for name, value in percentiles(samples).items():
                        report.add(f"trend_stream_{name}", "ms", value)
        report.add("collector_rss_load", "MiB", peak.peak)


def celery(
    settings: Settings, report: Report, sizes: dict[str, int], repeat: int, path: Path
) -> None:
    """The same dry run as a Celery task: .delay() to .get(), one at a time."""
    rabbit = rabbitmq.up()
    queue = celery_env(settings, rabbit)["BENCH_CELERY_QUEUE"]
    with celery_worker(settings, rabbit):
        from bench.celery_app import collect_file_dry_run

        def once() -> float:
            started = time.perf_counter()
            collect_file_dry_run.apply_async((str(path),), queue=queue).get(timeout=60)
            return time.perf_counter() - started

        for _ in range(sizes["warmup"]):
            once()
        for _ in range(repeat):
            samples = [once() for _ in range(sizes["requests"])]
            for name, value in percentiles(samples).items():
                report.add(f"celery_{name}", "ms", value)


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "latency", "Trigger to result, one dry run of the file plugin at a time", sizes, args.repeat
    )
    async with bench_env("latency") as base:
        folder = base.state_dir.parent / "files"
        path = write_file(folder, sizes["file_items"])
        settings = base.model_copy(update={"file_plugin_dir": folder})
        await trend_stream(settings, report, sizes, args.repeat)
        celery(settings, report, sizes, args.repeat, path)
    report.ratio("celery_p99_vs_trend_stream_p99", "celery_p99", "trend_stream_p99")
    report.target("p99 trigger to result < 250 ms", "trend_stream_p99", below=250)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
