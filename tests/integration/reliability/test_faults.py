"""Faults while items flow: a killed processor, PostgreSQL away for 20 s, a restarted broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from streams.config import Settings
from streams.messages.records import ProcessingReport, RawItem
from streams.messages.topics import ITEMS_RAW, PROCESSING_REPORTS, ensure_topics
from streams.reliability.deadletter import DeadLetters
from streams.servers.db import migrate
from tests.factories import make_item
from tests.support.kafka import read_all
from tests.support.workers import Worker, apoll, free_port, settings_env

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow
StartWorkers = Callable[..., list[Worker]]
OUTAGE_S = 20.0


def _stack(settings: Settings, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _items(prefix: str, count: int, request_id: str | None = None) -> list[RawItem]:
    words = ("kernel", "rust", "quantum", "battery", "satellite", "compiler", "vaccine", "chip")
    return [
        make_item(
            source_id=f"{prefix}-{n}",
            title=f"{words[n % 8].title()} report {prefix} number {n} on {words[n // 8 % 8]}",
            request_id=request_id,
        )
        for n in range(count)
    ]


async def _produce(settings: Settings, items: list[RawItem]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=20)
    await producer.start()
    try:
        topic = ITEMS_RAW.full_name(settings)
        sent = [await producer.send(topic, item.dumps(), key=item.key.encode()) for item in items]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _counts(settings: Settings) -> tuple[int, int, int]:
    """Rows, distinct items and processed rows in the items table."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        row = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT (source, source_id)), count(processed_at) FROM items"
        )
    finally:
        await conn.close()
    return int(row[0]), int(row[1]), int(row[2])


async def _processed(settings: Settings, count: int) -> tuple[int, int, int] | None:
    try:
        counts = await _counts(settings)
    except (OSError, asyncpg.PostgresError):
        return None
    return counts if counts[2] >= count else None


def _retries(worker: Worker) -> float:
    text = httpx.get(f"{worker.url}/metrics", timeout=5).text
    samples = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "trend_stream_retries_total"
    ]
    return sum(sample.value for sample in samples)


async def _reported(settings: Settings, request_id: str) -> tuple[set[str], set[str]]:
    """The keys of the request's items the processor reported, and those it reported new."""
    reports = [ProcessingReport.parse(v) for v in await read_all(settings, PROCESSING_REPORTS)]
    mine = [report for report in reports if report.request_id == request_id]
    handled = {key for report in mine for key in report.keys}
    return handled, {key for report in mine for key in report.new_keys}


@pytest.mark.timeout(900)
async def test_a_processor_killed_mid_stream_loses_and_duplicates_nothing(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    await ensure_topics(test_settings)
    items = _items("kill", 5000, request_id="killed")
    await _produce(test_settings, items)
    [first] = start_workers("processor", test_settings)
    assert await apoll(lambda: _processed(test_settings, 300), 240), "nothing processed"
    first.process.kill()
    first.process.wait(30)
    rows_at_kill = (await _counts(test_settings))[2]
    assert rows_at_kill < 5000, "the kill came too late to test anything"

    start_workers("processor", test_settings)
    counts = await apoll(lambda: _processed(test_settings, 5000), 600)
    assert counts == (5000, 5000, 5000)
    assert await DeadLetters(test_settings).entries() == []
    keys = {item.key for item in items}

    async def all_reported() -> set[str] | None:
        handled, new = await _reported(test_settings, "killed")
        return new if handled == keys else None

    new = await apoll(all_reported, 60, interval=1.0)
    assert new is not None, "not every item was reported"
    assert len(new) == len(keys)  # each new for its request, however often it was delivered


@pytest.mark.timeout(900)
async def test_a_processor_stopped_with_sigterm_mid_stream_leaves_nothing_half_written(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    await ensure_topics(test_settings)
    await _produce(test_settings, _items("term", 1500))
    [first] = start_workers("processor", test_settings)
    assert await apoll(lambda: _processed(test_settings, 200), 240), "nothing processed"
    first.stop(timeout=120)
    assert first.process.returncode is not None
    rows, distinct, processed = await _counts(test_settings)
    assert rows == distinct and processed < 1500

    start_workers("processor", test_settings)
    counts = await apoll(lambda: _processed(test_settings, 1500), 600)
    assert counts == (1500, 1500, 1500)
    assert await DeadLetters(test_settings).entries() == []


@pytest.fixture
def private_postgres(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on a PostgreSQL of its own (free port), purged afterwards."""
    dsn = f"postgresql://fault:pw@127.0.0.1:{free_port()}/faultdb"
    settings = test_settings.model_copy(
        update={"database_url": SecretStr(dsn), "state_dir": tmp_path / "private"}
    )
    _stack(settings, "start", "postgres")
    try:
        yield settings
    finally:
        _stack(settings, "purge")


async def test_postgres_away_for_20_s_loses_nothing_and_dead_letters_nothing(
    private_postgres: Settings, start_workers: StartWorkers
) -> None:
    settings = private_postgres.model_copy(update={"outage_retry_max_s": 2.0})
    await migrate(settings.database_url.get_secret_value())
    await ensure_topics(settings)
    [processor] = start_workers("processor", settings)
    await _produce(settings, _items("before", 200))
    assert await apoll(lambda: _processed(settings, 200), 240)

    _stack(settings, "stop", "postgres")
    await _produce(settings, _items("during", 200))
    await asyncio.sleep(OUTAGE_S)  # the fault itself: the database stays away this long
    _stack(settings, "start", "postgres")
    await _produce(settings, _items("after", 200))

    counts = await apoll(lambda: _processed(settings, 600), 300)
    assert counts == (600, 600, 600)
    assert _retries(processor) > 0
    assert await DeadLetters(settings).entries() == []
    assert processor.process.poll() is None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair() -> int:
    """A free port whose next port is free too (the private broker's controller listens there)."""
    for _ in range(100):
        port = free_port()
        if _bindable(port + 1):
            return port
    raise AssertionError("no two consecutive free ports found")


@pytest.fixture
def private_kafka(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on an Apache Kafka of its own (free ports), purged afterwards."""
    port = _free_port_pair()
    settings = test_settings.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{port}",
            "state_dir": tmp_path / "private",
            "file_plugin_dir": ROOT,
        }
    )
    _stack(settings, "start", "kafka")
    try:
        yield settings
    finally:
        _stack(settings, "purge")


async def _produce_slowly(settings: Settings, items: list[RawItem]) -> None:
    for start in range(0, len(items), 20):
        await _produce(settings, items[start : start + 20])
        await asyncio.sleep(0.1)  # a steady stream, not one burst


@pytest.fixture
async def slow_stream(private_kafka: Settings) -> AsyncIterator[asyncio.Task[None]]:
    await ensure_topics(private_kafka)
    task = asyncio.create_task(_produce_slowly(private_kafka, _items("stream", 600)))
    yield task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task  # a failure of the stream surfaces here; a cancelled one is done with


async def test_a_broker_restart_mid_stream_loses_nothing(
    private_kafka: Settings, start_workers: StartWorkers, slow_stream: asyncio.Task[None]
) -> None:
    settings = private_kafka
    [processor] = start_workers("processor", settings)
    assert await apoll(lambda: _processed(settings, 50), 240)
    _stack(settings, "stop", "kafka")
    started = time.monotonic()
    _stack(settings, "start", "kafka")
    assert time.monotonic() - started < 120
    await asyncio.wait_for(slow_stream, 300)

    counts = await apoll(lambda: _processed(settings, 600), 300)
    assert counts == (600, 600, 600)
    assert processor.process.poll() is None
