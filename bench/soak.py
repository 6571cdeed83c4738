"""Benchmark: soak, a month of item time through the cluster stage, per simulated day."""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import asyncpg
import numpy as np
import numpy.typing as npt
import psutil

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.report import Report
from bench.synthetic import Stories
from services.processor.persist import PipelineStore, acquire, load_state
from services.processor.pipeline import ClusterStage, PipelineConfig
from streams.servers.db import create_pool

HELP = """Soak: a month of item time through the cluster stage, one row per simulated day.

Usage: python bench/soak.py [--days N] [--items-per-day N] [--batch N] [--repeat N] [--tiny]
                            [--out PATH]
A synthetic month (bench/synthetic.py, fake embedder): stories start all month long (three to
a few thousand items over one hour to four days, most about ten over half a day), one-off
items (28%) and ten stories that last the whole month (2%). ClusterStage runs in this process
on batches of --batch items in time order; after each batch its state changes are saved to
PostgreSQL as the owner saves them (PipelineStore.save under an owner epoch). At the end of
each simulated day: this process's RSS (the owner's memory), the day's batch times (process,
and process + save), the restore time of the saved state (load_state + ClusterStage.restore,
as a takeover does; median of --repeat), and the size of each structure of the stage that
could grow. The month runs once; --repeat repeats the restore measurements.
Flat means: the last day within 25% of the middle day (the windows are 14 days of topic
retention and 200,000 remembered items, so the first two weeks fill up).
"""
SIZES = {"days": 30, "items_per_day": 10_000, "batch": 100}
TINY = {"days": 3, "items_per_day": 600, "batch": 100}
START = datetime(2026, 11, 2, tzinfo=UTC)
DAY_S = 86_400
FLAT = 1.25
"""Growth from the middle day to the last within which a figure counts as flat."""
PERENNIAL = 10
"""Stories lasting the whole month (numbered 1 to 10)."""


def month(days: int, per_day: int, seed: int = 3) -> tuple[npt.NDArray[np.float64], list[int]]:
    """(item times in seconds from START, story numbers), in time order."""
    rng = np.random.default_rng(seed)
    total, end = days * per_day, days * DAY_S
    times: list[npt.NDArray[np.float64]] = []
    stories: list[npt.NDArray[np.int64]] = []
    perennial = round(0.02 * total)
    times.append(rng.uniform(0, end, perennial))
    stories.append(rng.integers(1, PERENNIAL + 1, perennial))
    number = PERENNIAL
    one_offs = round(0.28 * total)
    times.append(rng.uniform(0, end, one_offs))
    stories.append(np.arange(number + 1, number + 1 + one_offs))
    number += one_offs
    left = total - perennial - one_offs
    while left > 0:
        number += 1
        size = min(left, int(np.clip(rng.lognormal(math.log(10), 1.0), 3, 3000)))
        start = rng.uniform(0, end)
        duration = float(np.clip(rng.lognormal(math.log(12 * 3600), 0.8), 3600, 4 * DAY_S))
        times.append(np.minimum(rng.uniform(start, start + duration, size), end - 1))
        stories.append(np.full(size, number))
        left -= size
    at, numbers = np.concatenate(times), np.concatenate(stories)
    order = np.argsort(at, kind="stable")
    return at[order], [int(n) for n in numbers[order]]


@dataclass
class Day:
    """One simulated day's batches."""

    number: int
    items: int = 0
    process_ms: list[float] = field(default_factory=list)
    batch_ms: list[float] = field(default_factory=list)
    """process + state saved."""


def sizes_of_stage(stage: ClusterStage) -> dict[str, int]:
    """The size of each structure of the stage that could grow with the stream."""
    memory = stage.clusterer.memory
    topics = memory.topics.values()
    return {
        "live_topics": len(memory.topics),
        "counted_topics": len(memory.counted_ids),
        "entity_frequencies": len(stage.stats.frequency),
        "remembered_items": len(memory.items),
        "merged_ids": len(memory.merged),
        "activity_buckets": sum(len(t.activity) for t in topics),
        "max_topic_buckets": max((len(t.activity) for t in topics), default=0),
        "topic_terms": sum(len(t.terms) for t in topics),
        "counted_terms": len(memory.counted_terms),
        "counted_activity": len(memory.counted_activity),
        "trend_book": len(stage.book.latest),
        "ledger_positions": len(memory.ledger._positions),
        "index_rows": len(memory.index.ids),
        "near_duplicates": stage.near.filled,
    }


async def saved_sizes(pool: asyncpg.Pool) -> dict[str, int]:
    """Rows and bytes of the saved state in PostgreSQL."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM pipeline_topics) AS topic_rows, "
        "(SELECT count(*) FROM pipeline_entities) AS entity_rows, "
        "pg_total_relation_size('pipeline_topics') + pg_total_relation_size('pipeline_entities')"
        " + pg_total_relation_size('pipeline_state') AS state_bytes"
    )
    return {name: int(row[name]) for name in ("topic_rows", "entity_rows", "state_bytes")}


async def restore_ms(pool: asyncpg.Pool, config: PipelineConfig, repeat: int) -> float:
    """Median time to load and restore the saved state, as a new owner does."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        saved = await load_state(pool)
        restored = ClusterStage(config, 384)
        if saved is not None:
            restored.restore(saved)
        times.append((time.perf_counter() - began) * 1000)
        del restored, saved
    gc.collect()
    return statistics.median(times)


def rss_mb() -> float:
    """This process's resident memory, MiB."""
    return psutil.Process().memory_info().rss / 2**20


def p95(values: list[float]) -> float:
    """The 95th percentile (the value itself for fewer than two)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def soak(pool: asyncpg.Pool, sizes: dict[str, int], repeat: int) -> list[dict[str, Any]]:
    """The month through the stage; one row of figures per simulated day."""
    config = PipelineConfig()
    at, numbers = month(sizes["days"], sizes["items_per_day"])
    stories = Stories(seed=5)
    stage = ClusterStage(config, stories.embedder.dimension)
    store = PipelineStore(pool, config.window_hours)
    epoch = await acquire(pool, "bench:soak")
    rows: list[dict[str, Any]] = []
    day = Day(1)
    for start in range(0, len(at), sizes["batch"]):
        stop = min(start + sizes["batch"], len(at))
        events = [
            (START + timedelta(seconds=float(at[n])), stories.story(numbers[n]))
            for n in range(start, stop)
        ]
        items = stories.items(events)
        began = time.perf_counter()
        result = stage.process(items)
        placed = time.perf_counter()
        state = stage.state_changes()
        await store.save(result, state, epoch)
        stage.state_saved(state)
        done = time.perf_counter()
        day.items += len(items)
        day.process_ms.append((placed - began) * 1000)
        day.batch_ms.append((done - began) * 1000)
        next_day = int(at[stop] // DAY_S) + 1 if stop < len(at) else None
        if next_day != day.number:
            rows.append(await day_row(day, stage, pool, config, repeat))
            print(line_of(rows[-1]), flush=True)
            day = Day(next_day or day.number + 1)
    return rows


async def day_row(
    day: Day, stage: ClusterStage, pool: asyncpg.Pool, config: PipelineConfig, repeat: int
) -> dict[str, Any]:
    """The figures of the day just ended."""
    gc.collect()
    return {
        "day": day.number,
        "items": day.items,
        "rss_mb": rss_mb(),
        "process_ms_p50": statistics.median(day.process_ms),
        "process_ms_p95": p95(day.process_ms),
        "batch_ms_p50": statistics.median(day.batch_ms),
        "batch_ms_p95": p95(day.batch_ms),
        "restore_ms": await restore_ms(pool, config, repeat),
        **sizes_of_stage(stage),
        **await saved_sizes(pool),
    }


_COLUMNS = (
    ("day", "day", "{:d}"),
    ("items", "items", "{:,d}"),
    ("rss_mb", "RSS MiB", "{:,.0f}"),
    ("process_ms_p50", "process ms p50", "{:.1f}"),
    ("batch_ms_p50", "batch ms p50", "{:.1f}"),
    ("batch_ms_p95", "batch ms p95", "{:.1f}"),
    ("restore_ms", "restore ms", "{:,.0f}"),
    ("live_topics", "live topics", "{:,d}"),
    ("counted_topics", "counted", "{:,d}"),
    ("entity_frequencies", "entities", "{:,d}"),
    ("remembered_items", "remembered items", "{:,d}"),
    ("activity_buckets", "activity buckets", "{:,d}"),
    ("max_topic_buckets", "max buckets/topic", "{:,d}"),
    ("entity_rows", "entity rows", "{:,d}"),
    ("state_bytes", "state MB", "{:,.1f}"),
)


def line_of(row: dict[str, Any]) -> str:
    """One day as a markdown table row."""
    values = [row[key] / 1e6 if key == "state_bytes" else row[key] for key, _, _ in _COLUMNS]
    cells = [form.format(value) for value, (_, _, form) in zip(values, _COLUMNS, strict=True)]
    return "| " + " | ".join(cells) + " |"


def header() -> str:
    """The per-day table's header."""
    names = [name for _, name, _ in _COLUMNS]
    return "| " + " | ".join(names) + " |\n|" + " --- |" * len(names)


async def main() -> Report:
    args = parser(HELP, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "soak", "A month of item time through the cluster stage (fake embedder)", sizes, 1
    )
    print(header(), flush=True)
    async with bench_env("soak") as settings:
        pool = await create_pool(settings, max_size=2)
        try:
            rows = await soak(pool, sizes, args.repeat)
        finally:
            await pool.close()
    middle, last = rows[max(0, len(rows) // 2 - 1)], rows[-1]
    report.sizes["middle_day"], report.sizes["last_day"] = middle["day"], last["day"]
    for key, unit, note in (
        ("rss_mb", "MiB", "the owner's RSS"),
        ("batch_ms_p50", "ms", "per batch: process + state saved"),
        ("process_ms_p50", "ms", "per batch: ClusterStage.process"),
        ("restore_ms", "ms", "load_state + restore"),
        ("live_topics", "topics", "in memory"),
        ("entity_frequencies", "entities", "EntityStats.frequency"),
    ):
        report.add(f"{key}_middle", unit, float(middle[key]), f"{note}, day {middle['day']}")
        report.add(f"{key}_last", unit, float(last[key]), f"{note}, day {last['day']}")
        report.ratio(f"{key}_last_vs_middle", f"{key}_last", f"{key}_middle")
    for key in ("rss_mb", "batch_ms_p50", "restore_ms"):
        report.target(f"{key} flat (last/middle day)", f"{key}_last_vs_middle", at_most=FLAT)
    report.notes.append(header())
    report.notes += [line_of(row) for row in rows]
    report.series["days"] = rows
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
