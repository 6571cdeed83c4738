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
    give up when the count stands still for `stall` seconds."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    last, moved = -1, time.monotonic()
    try:
        while True:
            done = await conn.fetchval("SELECT count(*) FROM items WHERE processed_at IS NOT NULL")
            if done >= total:
                return
            if done != last:
                last, moved = done, time.monotonic()
            elif time.monotonic() - moved > stall:
                raise TimeoutError(f"{done} of {total} items processed, none for {stall}s")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


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
