"""Benchmark 7, scaling: 1 against 2 processor workers in one consumer group on the same
partitions (FAKE hash embedder, so the model's own threads don't hide the effect).

Usage: python bench/scaling.py [--items N] [--warmup N] [--repeat N] [--tiny] [--out PATH]
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
from bench.report import Report
from bench.workers import running, start_faust
from tests.support.workers import Worker

SIZES = {"items": 3000, "warmup": 200}
TINY = {"items": 200, "warmup": 20}


def wait_split(workers: list[Worker], timeout: float = 90.0) -> None:
    """Wait until the group rebalanced: every worker holds items.raw partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [
            [
                p
                for p in worker.wait_ready()["assignment"]
                if ".items.raw:" in p or p.startswith("items.raw:")
            ]
            for worker in workers
        ]
        if all(held):
            return
        time.sleep(0.5)
    raise TimeoutError("the processors never shared items.raw")


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "scaling", "1 against 2 processor workers (FAKE hash embedder)", sizes, args.repeat
    )
    async with bench_env("scaling") as settings:
        first = start_faust("processor", settings, "bench.hash_processor")
        with running([first]):
            flow = Flow(settings, [first])
            await flow.round(sizes["warmup"])
            for _ in range(args.repeat):
                report.add("one_worker", "items/s", (await flow.round(sizes["items"]))[0])
            second = start_faust("processor", settings, "bench.hash_processor")
            with running([second]):
                wait_split([first, second])
                flow.workers = [first, second]
                await flow.round(sizes["warmup"])
                for _ in range(args.repeat):
                    report.add("two_workers", "items/s", (await flow.round(sizes["items"]))[0])
    report.ratio("two_vs_one_worker", "two_workers", "one_worker")
    report.notes.append("2 cores run Kafka, PostgreSQL, Redis, the bench and both workers")
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
