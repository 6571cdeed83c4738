"""Benchmark 1, the broker's limit: raw aiokafka produce, then consume, of N RawItem-sized messages.

Usage: python bench/broker.py [--messages N] [--repeat N] [--tiny] [--out PATH]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.cli import parser, sizes_of
from bench.env import bench_env
from bench.items import bench_items, encoded
from bench.report import Report
from streams.config import Settings

SIZES = {"messages": 20000}
TINY = {"messages": 2000}
PARTITIONS = 4


async def fresh_topic(settings: Settings, name: str) -> str:
    """A new topic of the run's namespace with as many partitions as items.raw."""
    topic = f"{settings.namespace}{name}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, settings.topic_replication_factor)])
    finally:
        await admin.close()
    return topic


async def produce_rate(
    settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]
) -> float:
    """Messages per second sent and acknowledged (acks=1, batched as aiokafka does)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=5)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
        return len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume_rate(settings: Settings, topic: str, count: int) -> float:
    """Messages per second read from the topic's beginning until `count` (+ warm-up) arrived."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        seen = 0
        started = time.perf_counter()
        while seen < count + 1:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
            seen += sum(len(records) for records in batches.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def measure(settings: Settings, report: Report, count: int, repeat: int) -> None:
    """Produce then consume `count` RawItems, `repeat` times, on fresh topics."""
    messages = encoded(bench_items(count, "broker"))
    report.sizes["message_bytes"] = sum(len(v) for _, v in messages) // len(messages)
    for run in range(repeat):
        topic = await fresh_topic(settings, f"broker.{run}")
        report.add("produce", "msg/s", await produce_rate(settings, topic, messages))
        report.add("consume", "msg/s", await consume_rate(settings, topic, count))


async def main() -> Report:
    args = parser(__doc__, SIZES, TINY).parse_args()
    sizes = sizes_of(args)
    report = Report("broker", "Broker limit: raw aiokafka on the local Kafka", sizes, args.repeat)
    async with bench_env("broker") as settings:
        await measure(settings, report, sizes["messages"], args.repeat)
    print(report.table())
    print(f"\nwritten: {report.save(args.out)}")
    return report


if __name__ == "__main__":
    asyncio.run(main())
