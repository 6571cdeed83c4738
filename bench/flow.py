"""Items through running processors: sent to items.raw, timed until processed in PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.items import bench_items, editions, encoded
from bench.workers import PeakRss
from streams.config import Settings
from streams.messages.records import RawItem
from streams.messages.topics import ITEMS_RAW
from tests.support.workers import Worker


async def produce(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    """Send the messages to the run's items.raw, as fast as the broker takes them."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=5)
    await producer.start()
    try:
        topic = ITEMS_RAW.full_name(settings)
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_processed(settings: Settings, total: int, stall: float = 120.0) -> None:
    """Poll PostgreSQL until `total` item rows are processed (rows of every earlier round too);
    give up when the count stands still for `stall` seconds.

    Each poll counts the whole table (a scan that grows with it, on the cores the measured
    workers use), so polls are spaced by half the time the rows still missing should take at
    the rate seen so far (at least POLL_MIN_S, at most POLL_MAX_S): a handful per round, and
    the end still seen within POLL_MIN_S. Polling every 50 ms took most of a core from both
    sides of a comparison once the table held tens of thousands of rows.
    """
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    first: tuple[float, int] | None = None
    last, moved = -1, time.monotonic()
    try:
        while True:
            done = await conn.fetchval("SELECT count(*) FROM items WHERE processed_at IS NOT NULL")
            now = time.monotonic()
            if done >= total:
                return
            first = first or (now, done)
            if done != last:
                last, moved = done, now
            elif now - moved > stall:
                raise TimeoutError(f"{done} of {total} items processed, none for {stall}s")
            await asyncio.sleep(_next_poll(first, now, done, total))
    finally:
        await conn.close()


POLL_MIN_S = 0.05
POLL_MAX_S = 1.0


def _next_poll(first: tuple[float, int], now: float, done: int, total: int) -> float:
    """Half the time the missing rows should take at the rate seen since `first`."""
    started, done_then = first
    rate = (done - done_then) / (now - started) if now > started else 0.0
    if rate <= 0:
        return POLL_MIN_S
    return min(POLL_MAX_S, max(POLL_MIN_S, (total - done) / rate / 2))


class Flow:
    """Rounds of fresh items through the workers of one run; counts what was already sent."""

    def __init__(self, settings: Settings, workers: list[Worker], label: str = "r") -> None:
        self.settings = settings
        self.workers = workers
        self.label = label
        """Prefix of the rounds' item ids: flows of one database need different ones."""
        self.sent = 0
        self.rounds = 0
        self.editions = 0
        """Weeks of item time sent so far: the next round starts after them."""

    def items(self, count: int) -> list[RawItem]:
        """The next round's items: new ids and text, and the weeks after the last round's."""
        self.rounds += 1
        items = bench_items(count, f"{self.label}{self.rounds}", self.editions)
        self.editions += editions(count)
        return items

    async def round(self, count: int) -> tuple[float, list[float]]:
        """Items per second, first send to last row processed; each worker's peak RSS."""
        messages = encoded(self.items(count))
        samplers = [PeakRss(worker.process.pid) for worker in self.workers]
        for sampler in samplers:
            sampler.__enter__()
        try:
            started = time.perf_counter()
            await produce(self.settings, messages)
            await wait_processed(self.settings, self.sent + count)
            elapsed = time.perf_counter() - started
        finally:
            for sampler in samplers:
                sampler.__exit__()
        self.sent += count
        return count / elapsed, [sampler.peak for sampler in samplers]
