"""Benchmark: freshness, item produced to its topic persisted and its trend update published."""

from __future__ import annotations

import asyncio
import bisect
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.flow import Flow, wait_processed
from bench.report import Report
from bench.workers import running, start_faust
from streams.config import Settings
from streams.messages.items import key_sql
from streams.messages.topics import ITEMS_RAW, PROCESSING_REPORTS, TRENDS_UPDATES

HELP = """Freshness: an item produced to items.raw until its topic is persisted and its trend
update published, p50/p95/p99, under a steady load at half the capacity measured in the same run
(the real processor, the real model); beside the old design's freshness from its schedule.

Usage: python bench/freshness.py [--capacity-items N] [--seconds N] [--warmup N] [--repeat N]
                                 [--tiny] [--out PATH]
Two configurations, one after the other: the default PROCESSOR_BATCH_WITHIN_S (0.2 s), then the
former default, 1 s (within_1s_ rows, for comparison; the goal is the default's). With the
default, every repeat measures the capacity (items/s, a burst through one processor worker); in
both, every repeat then sends items one by one at half the capacity for --seconds, each timed
from its send:
- persisted: to its row's processed_at (set in the cluster stage's transaction with its topic);
- trend: to the trends.updates message for its topic published after that transaction (its
  Kafka timestamp), for items whose batch published one (trends.updates announces changes of
  a trend's state: the other items are counted apart).
The old design processed every 30 minutes: an item waited uniformly 0-30 min (computed, not
measured).
"""
SIZES = {"capacity_items": 1000, "seconds": 45, "warmup": 100}
TINY = {"capacity_items": 100, "seconds": 5, "warmup": 20}
OLD_INTERVAL_S = 30 * 60
"""The old design's processing schedule: every 30 minutes."""
GOAL_MS = 2000.0
COMPARED_WITHIN_S = 1.0
"""The batch wait of the second configuration measured: the former default."""


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of samples in seconds, in milliseconds."""
    if len(samples) == 1:
        return dict.fromkeys(("p50", "p95", "p99"), samples[0] * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


class Announcements:
    """What the processor publishes on trends.updates and processing.reports, each message at
    its Kafka timestamp (set by the processor's producer when it sent it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.trends: defaultdict[str, list[float]] = defaultdict(list)
        """Publish times (s) of each topic's trend updates, in order."""
        self.reported: dict[str, float] = {}
        """When the cluster stage first reported each item key (after its batch's trends)."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Announcements:
        await self.consumer.start()
        parts = [
            TopicPartition(spec.full_name(self.settings), n)
            for spec in (TRENDS_UPDATES, PROCESSING_REPORTS)
            for n in range(spec.partition_count(self.settings))
        ]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end()
        for part in parts:  # resolve the positions now: later messages are all read
            await self.consumer.position(part)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()

    async def _read(self) -> None:
        trends = TRENDS_UPDATES.full_name(self.settings)
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for part, records in batches.items():
                for record in records:
                    value = json.loads(record.value)
                    at = record.timestamp / 1000
                    if part.topic == trends:
                        self.trends[value["topic_id"]].append(at)
                    elif value.get("stage") == "cluster":
                        for key in value.get("keys") or []:
                            self.reported.setdefault(key, at)

    def trend_after(self, topic_id: str, since: float, until: float) -> float | None:
        """The first trend update of a topic published in [since, until] (its batch's)."""
        times = self.trends.get(topic_id, [])
        index = bisect.bisect_left(times, since - 0.001)  # processed_at: the transaction start
        if index < len(times) and times[index] <= until + 0.001:
            return times[index]
        return None


async def steady(flow: Flow, rate: float, seconds: float) -> dict[str, float]:
    """Send the flow's next items one by one at `rate` items/s for `seconds`; each key's send
    time (epoch s)."""
    settings = flow.settings
    items = flow.items(max(1, round(rate * seconds)))
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=0)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        topic = ITEMS_RAW.full_name(settings)
        began = time.monotonic()
        for number, item in enumerate(items):
            delay = began + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[item.key] = time.time()
            await producer.send(topic, item.dumps(), key=item.key.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def rows_of(settings: Settings, keys: Sequence[str]) -> dict[str, tuple[float, str | None]]:
    """(processed_at in epoch seconds, topic id) of each item."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            f"SELECT {key_sql()} AS key, processed_at, topic_id FROM items "
            f"WHERE {key_sql()} = ANY($1::text[]) AND processed_at IS NOT NULL",
            list(keys),
        )
    finally:
        await conn.close()
    return {row["key"]: (row["processed_at"].timestamp(), row["topic_id"]) for row in rows}


async def measure(
    report: Report,
    flow: Flow,
    heard: Announcements,
    sizes: dict[str, int],
    *,
    prefix: str = "",
    capacity: float | None = None,
) -> None:
    """One repeat: the capacity (unless given: `capacity`), then the steady load at half it."""
    settings = flow.settings
    within = f"PROCESSOR_BATCH_WITHIN_S {settings.processor_batch_within_s:g}"
    if capacity is None:
        capacity, _ = await flow.round(sizes["capacity_items"])
        report.add("capacity", "items/s", capacity, f"burst, 1 worker, real model; {within}")
    rate = capacity / 2
    sent = await steady(flow, rate, sizes["seconds"])
    flow.sent += len(sent)
    await wait_processed(settings, flow.sent)
    await asyncio.sleep(1.0)  # the last batch's announcements
    rows = await rows_of(settings, list(sent))
    persisted, trend, silent = [], [], 0
    for key, at in sent.items():
        processed, topic_id = rows[key]
        persisted.append(processed - at)
        reported = heard.reported.get(key, processed + 30.0)
        published = heard.trend_after(topic_id, processed, reported) if topic_id else None
        if published is None:
            silent += 1
        else:
            trend.append(published - at)
    report.add(f"{prefix}steady_rate", "items/s", len(sent) / sizes["seconds"], "half capacity")
    for name, value in percentiles(persisted).items():
        note = f"sent to processed_at (topic stored); {within}"
        report.add(f"{prefix}persisted_{name}", "ms", value, note)
    if trend:
        for name, value in percentiles(trend).items():
            note = f"sent to its trend update published; {within}"
            report.add(f"{prefix}trend_{name}", "ms", value, note)
    report.add(
        f"{prefix}items_without_trend_update",
        "share",
        silent / len(sent),
        "their batch changed no trend state of their topic (trends.updates: state changes)",
    )


async def configuration(
    settings: Settings,
    report: Report,
    sizes: dict[str, int],
    *,
    prefix: str = "",
    capacity: float | None = None,
) -> None:
    """Every repeat with one processor worker of these settings (at half `capacity`, else at
    half the capacity each repeat measures first)."""
    worker = start_faust("processor", settings)
    with running([worker]):
        flow = Flow(settings, [worker], label=f"{prefix}r")
        flow.sent = await processed_rows(settings)
        await flow.round(sizes["warmup"])  # loads the model
        async with Announcements(settings) as heard:
            for _ in range(report.repeat):
                await measure(report, flow, heard, sizes, prefix=prefix, capacity=capacity)


async def processed_rows(settings: Settings) -> int:
    """Rows already processed in the run's database."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return int(await conn.fetchval("SELECT count(*) FROM items WHERE processed_at IS NOT NULL"))
    finally:
        await conn.close()


def old_design(report: Report) -> None:
    """The old design's freshness from its schedule: uniform 0-30 min waits (computed)."""
    note = "computed: processing every 30 min, an item waits uniformly 0-30 min"
    for name, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        report.add(f"old_design_{name}", "ms", OLD_INTERVAL_S * share * 1000, note)
    report.add("old_design_mean", "ms", OLD_INTERVAL_S / 2 * 1000, note)


async def main() -> Report:
    args = parser(HELP, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "freshness",
        "Item produced to its topic persisted and its trend update published (real model)",
        sizes,
        args.repeat,
    )
    async with bench_env("fresh") as settings:
        await configuration(settings, report, sizes)
        compared = settings.model_copy(update={"processor_batch_within_s": COMPARED_WITHIN_S})
        capacity = report.median("capacity")
        await configuration(compared, report, sizes, prefix="within_1s_", capacity=capacity)
    old_design(report)
    report.notes.append(
        f"PROCESSOR_BATCH_WITHIN_S {settings.processor_batch_within_s:g} (default) and "
        f"{COMPARED_WITHIN_S:g} (within_1s_ rows): each stage waits that long for a batch"
    )
    report.ratio("old_design_p99_vs_trend_p99", "old_design_p99", "trend_p99")
    report.target(f"trend update p99 <= {GOAL_MS:.0f} ms", "trend_p99", at_most=GOAL_MS)
    report.target(f"persisted p99 <= {GOAL_MS:.0f} ms", "persisted_p99", at_most=GOAL_MS)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
