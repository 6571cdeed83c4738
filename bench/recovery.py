"""Benchmark: recovery, the cluster stage taken over after kill -9 of its owner holding N topics."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import asyncpg

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.report import Report
from bench.synthetic import Stories
from bench.workers import running, start_faust, wait_settled
from services.processor.persist import PipelineStore, acquire
from services.processor.pipeline import ClusterStage, PipelineConfig
from streams.config import Settings
from streams.servers.db import create_pool
from tests.support.workers import Worker

HELP = """Recovery: the cluster stage's takeover after kill -9 of its owner.

Usage: python bench/recovery.py [--topics N] [--repeat N] [--tiny] [--out PATH]
The state is prepared in process: ClusterStage runs on synthetic stories (three items each,
bench/synthetic.py, fake embedder) until it holds about N topics, and is saved as the
processor saves it (PipelineStore.save under an owner epoch). Two processor workers
(bench/hash_processor.py: the real processor with the fake embedder) start; the one that took
the stage over is killed with SIGKILL, and the takeover is timed from the kill to the
survivor's "cluster stage taken over" log line (which gives restore_ms, the epoch bump and the
state's restore). Each repeat starts a new worker beside the survivor and kills the owner
again. BROKER_SESSION_TIMEOUT_S (default 6 s) is most of it: the broker's wait for the dead
worker before the group rebalances.
"""
SIZES = {"topics": 10_000}
TINY = {"topics": 300}
START = datetime(2026, 11, 2, tzinfo=UTC)
GOAL_S = 15.0
_TAKEN = re.compile(r"cluster stage taken over epoch=(\d+) topics=(\d+) restore_ms=(\d+)")


def prepared_stage(topics: int, config: PipelineConfig) -> ClusterStage:
    """A cluster stage that placed three items of each of `topics` stories over one day."""
    stories = Stories(seed=11)
    made = [stories.story() for _ in range(topics)]
    spread = timedelta(hours=24) / topics
    events = sorted(
        (
            (START + number * spread + timedelta(minutes=20 * k), story)
            for number, story in enumerate(made)
            for k in range(3)
        ),
        key=lambda event: event[0],
    )
    stage = ClusterStage(config, stories.embedder.dimension)
    for start in range(0, len(events), 1000):
        items = stories.items(events[start : start + 1000])
        for batch in range(0, len(items), 100):
            stage.process(items[batch : batch + 100])
    return stage


async def save_state(settings: Settings, stage: ClusterStage, config: PipelineConfig) -> int:
    """Save the stage's whole state as its owner would; return the owner epoch it used."""
    pool = await create_pool(settings, max_size=2)
    try:
        epoch = await acquire(pool, "bench:prepare")
        state = stage.state_changes()
        await PipelineStore(pool, config.window_hours).save(stage.process([]), state, epoch)
        stage.state_saved(state)
        return epoch
    finally:
        await pool.close()


async def owner(settings: Settings) -> tuple[int, int | None]:
    """(owner epoch, owner pid) now."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow("SELECT epoch, owner FROM pipeline_owner")
    finally:
        await conn.close()
    if row is None or not row["owner"] or ":" not in row["owner"]:
        return (row["epoch"] if row else 0), None
    pid = row["owner"].rsplit(":", 1)[1]
    return int(row["epoch"]), int(pid) if pid.isdigit() else None


def taken_over(worker: Worker, after_epoch: int) -> tuple[int, int, int] | None:
    """(epoch, topics, restore_ms) of the worker's latest takeover past `after_epoch`."""
    found = [tuple(map(int, m)) for m in _TAKEN.findall(worker.output())]
    later = [entry for entry in found if entry[0] > after_epoch]
    return later[-1] if later else None  # type: ignore[return-value]


async def settled_owner(
    settings: Settings, workers: list[Worker], timeout: float = 120.0
) -> tuple[Worker, tuple[int, int, int]]:
    """The worker that holds the stage once the group settled, and its takeover line."""
    wait_settled(workers, settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        epoch, pid = await owner(settings)
        held = [w for w in workers if w.process.pid == pid and w.process.poll() is None]
        line = taken_over(held[0], epoch - 1) if held else None
        if held and line is not None and line[0] == epoch:
            return held[0], line
        await asyncio.sleep(0.2)
    raise TimeoutError("no worker took the cluster stage over")


async def kill_owner(settings: Settings, workers: list[Worker]) -> tuple[float, int, int]:
    """kill -9 the owner; (seconds to the survivor's takeover line, topics, restore_ms)."""
    dead, line = await settled_owner(settings, workers)
    epoch = line[0]
    os.kill(dead.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    dead.process.wait(10)
    survivors = [w for w in workers if w is not dead]
    while time.monotonic() - killed < 120:
        for worker in survivors:
            found = taken_over(worker, epoch)
            if found is not None:
                return time.monotonic() - killed, found[1], found[2]
        await asyncio.sleep(0.02)
    raise TimeoutError("the cluster stage was not taken over within 120 s of the kill")


async def main() -> Report:
    args = parser(HELP, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report(
        "recovery",
        "Cluster stage takeover after kill -9 of its owner (fake embedder)",
        sizes,
        args.repeat,
    )
    config = PipelineConfig()
    began = time.perf_counter()
    stage = prepared_stage(sizes["topics"], config)
    topics = len(stage.clusterer.topics)
    report.add("prepare", "s", time.perf_counter() - began, "the state built in process")
    report.sizes["topics_in_state"] = topics
    async with bench_env("recovery") as settings:
        await save_state(settings, stage, config)
        del stage
        workers = [start_faust("processor", settings, "bench.hash_processor") for _ in range(2)]
        with running(workers) as alive:
            _, first = await settled_owner(settings, alive)
            report.add("restore_at_start", "ms", first[2], "first owner's takeover at start")
            for repeat in range(args.repeat):
                took, restored, restore_ms = await kill_owner(settings, alive)
                report.add("takeover", "s", took, "kill -9 of the owner to the survivor's log line")
                report.add("restore", "ms", restore_ms, "epoch bump and state restore")
                report.add("topics_restored", "topics", restored)
                print(f"takeover {took:.1f} s, restore {restore_ms} ms, {restored} topics")
                alive[:] = [w for w in alive if w.process.poll() is None]
                if repeat + 1 < args.repeat:
                    fresh = start_faust("processor", settings, "bench.hash_processor")
                    fresh.wait_ready(180)
                    alive.append(fresh)
    report.notes.append(f"BROKER_SESSION_TIMEOUT_S {settings.broker_session_timeout_s:g}")
    report.target(f"takeover <= {GOAL_S:g} s", "takeover", at_most=GOAL_S)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
