"""Replaying the demo week through the running workers: the demo server's clock moves step by
step, an `all` collection fetches what the sources show, the processor turns it into trends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from streams.config import Settings
from streams.demo.week import HOUR, Week, hour_of
from streams.exceptions import RecordValidationError, TrendStreamError
from streams.messages.records import RequestState, TrendState, TrendUpdate
from streams.messages.topics import ITEMS_RAW, TRENDS_UPDATES
from streams.operations.offsets import KafkaOffsets
from streams.requests.client import request_collection
from streams.servers.db.pool import create_pool

__all__ = ["DemoStats", "Progress", "Replay", "ReplayResult", "demo_stats", "step_clocks"]

STEP = timedelta(hours=6)
COLLECT_TIMEOUT_S = 120.0
STEP_TIMEOUT_S = 120.0
"""The longest a step waits for the processor (the first one includes loading the model)."""
PROCESS_TIMEOUT_S = 300.0
POLL_S = 0.2

_PROCESSED = """
SELECT count(*) FROM items i JOIN unnest($1::text[], $2::text[]) AS d(source, source_id)
  USING (source, source_id)
WHERE i.processed_at IS NOT NULL
"""
_STATS = """
WITH demo(source, source_id) AS (SELECT * FROM unnest($1::text[], $2::text[])),
     mine AS (SELECT i.processed_at, i.topic_id FROM items i JOIN demo USING (source, source_id)),
     live AS (SELECT t.id, tr.state FROM topics t LEFT JOIN trends tr ON tr.topic_id = t.id
              WHERE t.merged_into IS NULL
                AND t.id IN (SELECT topic_id FROM mine WHERE topic_id IS NOT NULL))
SELECT (SELECT count(*) FROM mine) AS stored,
       (SELECT count(processed_at) FROM mine) AS processed,
       (SELECT count(*) FROM live) AS topics,
       (SELECT count(*) FROM live WHERE state = 'trending') AS trending
"""


@dataclass(frozen=True)
class DemoStats:
    """The week's items in PostgreSQL: stored, processed, their topics and how many trend."""

    stored: int = 0
    processed: int = 0
    topics: int = 0
    trending: int = 0


async def demo_stats(pool: asyncpg.Pool, week: Week) -> DemoStats:
    """What PostgreSQL holds of the week's items (by source and source id)."""
    keys = week.keys()
    row = await pool.fetchrow(_STATS, [k[0] for k in keys], [k[1] for k in keys])
    assert row is not None  # one row, always
    return DemoStats(row["stored"], row["processed"], row["topics"], row["trending"])


@dataclass(frozen=True)
class Progress:
    """Where the replay is: the clock, the collections, and what the processor made of them."""

    clock: datetime
    step: int
    steps: int
    collected: int
    stats: DemoStats
    updates: int
    went_trending: int
    """Topics that reached `trending` since the replay started."""
    elapsed_s: float

    def line(self) -> str:
        """One line: the demo time, items collected, processed, topics, trending."""
        return (
            f"demo: {self.clock:%a %d %b %H:00} ({self.step}/{self.steps}) | "
            f"collected {self.collected} | processed {self.stats.processed} | "
            f"topics {self.stats.topics} | trending {self.stats.trending} now, "
            f"{self.went_trending} so far | trend updates {self.updates} | {self.elapsed_s:.0f}s"
        )


@dataclass
class ReplayResult:
    """What the replay did."""

    collections: int = 0
    collected: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    """Items published per plugin."""
    failures: list[str] = field(default_factory=list)
    """Errors of the plugin runs that failed (a collection goes on without them)."""
    went_trending: list[str] = field(default_factory=list)
    """The topics that reached `trending` during the replay, by title."""
    updates: int = 0
    stats: DemoStats = DemoStats()
    caught_up: bool = False
    """True when the processor had processed every stored item of the week at the end."""
    stored_before: int = 0
    """The week's items PostgreSQL held before the replay: all of them, processed, and the
    replay is skipped (an earlier run's; the sources would only show them again)."""
    late_steps: int = 0
    """Steps after which the processor had not caught up within STEP_TIMEOUT_S."""


class Replay:
    """Replays the week through the workers of `settings`, from the demo server at `url`."""

    def __init__(
        self,
        settings: Settings,
        url: str,
        *,
        step: timedelta = STEP,
        on_progress: Callable[[Progress], None] = lambda progress: None,
        on_event: Callable[[str], None] = lambda line: None,
        week: Week | None = None,
    ) -> None:
        self.settings = settings
        self.url = url.rstrip("/")
        self.step = step
        self.on_progress = on_progress
        self.on_event = on_event
        self.week = week or Week.load()
        """The server's week (default: the bundled one), in its own time until run() moves it."""
        self.result = ReplayResult()
        self._started = time.monotonic()
        self._clock: datetime | None = None
        self._steps = (0, 0)

    async def run(self) -> ReplayResult:
        """Every step of the week, then wait for the processor to catch up.

        The collection of a step runs while the processor works on the step before; the next
        step waits until every item the sources showed up to that step before is processed, so
        the processor meets the week in order, a few hours at a time, as it would live.
        """
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as http:
            status = (await http.get("/demo")).raise_for_status().json()
            start = datetime.fromisoformat(status["start"])
            self.week = self.week.moved(start - self.week.start)  # the server's week
            clocks = step_clocks(hour_of(start), hour_of(self.week.end) + HOUR, self.step)
            pool = await create_pool(self.settings, max_size=2)
            following = asyncio.Event()
            updates = asyncio.create_task(self._follow_updates(pool, following))
            try:
                await asyncio.wait_for(following.wait(), 30)
                self.result.stats = await demo_stats(pool, self.week)
                self.result.stored_before = self.result.stats.stored
                if self.result.stats.processed == len(self.week):  # an earlier run's
                    await _set_clock(http, clocks[-1])  # the schedules see the week's last day
                    self.result.caught_up = True
                    return self.result
                self.on_event(
                    f"demo: replaying a week of {len(self.week)} items from {self.url} through "
                    f"the workers: one `all` collection per {self.step / HOUR:g} h of demo time"
                )
                shown: list[tuple[str, str]] = []
                for number, clock in enumerate(clocks, start=1):
                    self._clock, self._steps = clock, (number, len(clocks))
                    await _set_clock(http, clock)
                    await self._collect()
                    await self._wait_items(pool, shown)
                    shown = [item.key for item in self.week if item.published_at <= clock]
                await self._wait_processed(pool)
            finally:
                updates.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await updates
                await pool.close()
        return self.result

    async def _wait_items(self, pool: asyncpg.Pool, keys: list[tuple[str, str]]) -> None:
        """Until these items are processed (or STEP_TIMEOUT_S passed), reporting meanwhile."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        sources, ids = [k[0] for k in keys], [k[1] for k in keys]
        while True:
            self.result.stats = await demo_stats(pool, self.week)
            self._report()
            done = await pool.fetchval(_PROCESSED, sources, ids) if keys else 0
            if done >= len(keys):
                return
            if time.monotonic() > deadline:
                self.result.late_steps += 1
                return
            await asyncio.sleep(POLL_S)

    async def _collect(self) -> None:
        """One `all` collection, waited for; a failed plugin is noted, not fatal."""
        handle = await request_collection(
            "all", requested_by="demo", timeout=COLLECT_TIMEOUT_S, settings=self.settings
        )
        async with handle:
            status = await handle.wait()
        self.result.collections += 1
        outcome = status.result or {}
        self.result.collected += int(outcome.get("items_published") or 0)
        if status.state is not RequestState.SUCCESS:
            raise TrendStreamError(f"demo: collection {status.request_id}: {status.error}")
        for name, child in (outcome.get("children") or {}).items():
            published = int(child.get("items_published") or 0)
            self.result.by_source[name] = self.result.by_source.get(name, 0) + published
        for name, error in (outcome.get("failures") or {}).items():
            text = f"{name}: {error}"
            if text not in self.result.failures:
                self.result.failures.append(text)
                self.on_event(f"demo: a source failed: {text}")

    async def _wait_processed(self, pool: asyncpg.Pool) -> None:
        """Until the processor has read all of items.raw and processed every stored item."""
        offsets = KafkaOffsets(self.settings)
        group = f"{self.settings.namespace}trend-stream-processor"
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                stats = self.result.stats = await demo_stats(pool, self.week)
                self._report()
                if stats.processed == stats.stored and await _caught_up(offsets, group, self):
                    self.result.caught_up = True
                    return
                await asyncio.sleep(POLL_S)
        finally:
            await offsets.close()

    async def _follow_updates(self, pool: asyncpg.Pool, following: asyncio.Event) -> None:
        """Count trends.updates from now on (`following` set once reading from the end);
        announce each topic that starts trending."""
        offsets = KafkaOffsets(self.settings)
        try:
            partitions = await offsets.partitions(TRENDS_UPDATES.full_name(self.settings))
        finally:
            await offsets.close()
        if not partitions:
            following.set()
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_list, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:  # the end offsets, fetched now rather than later
                await consumer.position(partition)
            following.set()
            async for message in consumer:
                try:
                    update = TrendUpdate.parse(message.value)
                except RecordValidationError:
                    continue
                self.result.updates += 1
                if update.state is TrendState.TRENDING and update.previous_state is not (
                    TrendState.TRENDING
                ):
                    title = await pool.fetchval(
                        "SELECT representative_title FROM topics WHERE id = $1", update.topic_id
                    )
                    name = title or update.label or update.topic_id
                    if name not in self.result.went_trending:
                        self.result.went_trending.append(name)
                    when = f"{self._clock:%a %d %b %H:00}" if self._clock else "now"
                    self.on_event(f"demo: {when}: trending: {name}")
        finally:
            await consumer.stop()

    def _report(self) -> None:
        if self._clock is None:
            return
        self.on_progress(
            Progress(
                clock=self._clock,
                step=self._steps[0],
                steps=self._steps[1],
                collected=self.result.collected,
                stats=self.result.stats,
                updates=self.result.updates,
                went_trending=len(self.result.went_trending),
                elapsed_s=time.monotonic() - self._started,
            )
        )


async def _set_clock(http: httpx.AsyncClient, clock: datetime) -> None:
    """Move the demo server's clock: the sources show what was published up to `clock`."""
    (await http.post("/demo/clock", json={"at": clock.isoformat()})).raise_for_status()


def step_clocks(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The clock of each step: one step after `start`, then every `step`, ending at `end`."""
    clocks, clock = [], start
    while clock < end:
        clock = min(clock + step, end)
        clocks.append(clock)
    return clocks


async def _caught_up(offsets: KafkaOffsets, group: str, replay: Replay) -> bool:
    """True when the processor's group committed the end of every items.raw partition."""
    topic = ITEMS_RAW.full_name(replay.settings)
    read = await offsets.read(group)
    committed = {tp: offset for tp, offset in read.committed.items() if tp.topic == topic}
    ends = await offsets.ends(await offsets.partitions(topic))
    return all(committed.get(tp, 0) >= end for tp, end in ends.items())
