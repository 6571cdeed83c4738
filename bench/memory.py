"""Benchmark 6, memory: peak RSS of each worker at rest and under load.

The processor (with and without the model), the collector and the Celery worker are sampled by
the benchmarks that load them (model, nomodel, latency, oldsystem); this script adds the
maintenance worker, at rest and while it logs a burst of alerts.
Usage: python bench/memory.py [--alerts N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from aiokafka import AIOKafkaProducer

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.report import Report
from bench.workers import PeakRss, rss_mb, running, start_faust
from streams.config import Settings
from streams.messages.topics import ALERTS

SIZES = {"alerts": 5000, "settle_ms": 3000}
TINY = {"alerts": 200, "settle_ms": 500}


async def alerts(settings: Settings, count: int) -> None:
    """A burst of plain-text alerts on the run's alerts topic."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=5)
    await producer.start()
    try:
        topic = ALERTS.full_name(settings)
        futures = [
            await producer.send(topic, json.dumps({"bench": n, "message": "load"}).encode())
            for n in range(count)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "memory",
        "Maintenance worker RSS (the other workers: see their benches)",
        sizes,
        args.repeat,
    )
    async with bench_env("memory") as settings:
        worker = start_faust("maintenance", settings)
        with running([worker]):
            await asyncio.sleep(sizes["settle_ms"] / 1000)
            for _ in range(args.repeat):
                report.add("maintenance_rss_rest", "MiB", rss_mb(worker.process.pid))
                with PeakRss(worker.process.pid) as peak:
                    await alerts(settings, sizes["alerts"])
                    await asyncio.sleep(sizes["settle_ms"] / 1000)
                report.add("maintenance_rss_load", "MiB", peak.peak)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
