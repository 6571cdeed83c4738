"""GET /metrics of real workers parses with prometheus-client's parser and carries every series."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from streams.config import Settings
from streams.messages.records import RequestState
from streams.messages.topics import COLLECT_REQUESTS, COLLECT_RESULTS, ITEMS_RAW, PROCESSING_REPORTS
from tests.factories import make_request
from tests.support.kafka import produce, wait_final
from tests.support.workers import Worker, apoll

ROOT = Path(__file__).resolve().parents[2]
StartWorkers = Callable[..., list[Worker]]
Scrape = dict[str, Any]


async def scrape(worker: Worker) -> Scrape:
    """The worker's metric families by name, parsed as Prometheus would read them."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{worker.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(families: Scrape, family: str, name: str | None = None, **labels: str) -> list[Sample]:
    """The samples of a family (of one sample name) whose labels include these."""
    found = families[family].samples if family in families else []
    return [
        s for s in found if (name is None or s.name == name) and labels.items() <= s.labels.items()
    ]


def total(families: Scrape, family: str, name: str | None = None, **labels: str) -> float:
    """The sum of the matching samples (0 when there is none)."""
    return sum(s.value for s in samples(families, family, name, **labels))


async def scrape_until(worker: Worker, done: Callable[[Scrape], bool], timeout: float) -> Scrape:
    """Scrape until done(families) holds; the last scrape either way."""
    last: Scrape = {}

    async def check() -> bool:
        nonlocal last
        last = await scrape(worker)
        return done(last)

    await apoll(check, timeout, interval=0.5)
    return last


def lag_partitions(families: Scrape) -> set[str]:
    """topic:partition of every lag sample."""
    lags = samples(families, "trend_stream_consumer_lag")
    return {f"{s.labels['topic']}:{s.labels['partition']}" for s in lags}


async def test_workers_expose_their_series(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = test_settings.model_copy(update={"file_plugin_dir": ROOT})
    (collector,) = start_workers("collector", settings)
    (processor,) = start_workers("processor", settings)
    request = make_request(dry_run=False, then_process=True)
    await produce(settings, COLLECT_REQUESTS, request.dumps(), request.request_id.encode())
    status = (await wait_final(settings, {request.request_id}))[request.request_id]
    assert status.state is RequestState.SUCCESS, status.error
    assert status.result is not None
    published = status.result["items_published"]
    assert published > 0

    name = {spec: spec.full_name(settings) for spec in (COLLECT_REQUESTS, COLLECT_RESULTS)}
    name |= {spec: spec.full_name(settings) for spec in (ITEMS_RAW, PROCESSING_REPORTS)}
    collector_assignment = set(collector.wait_ready()["assignment"])
    processor_assignment = set(processor.wait_ready()["assignment"])

    def collector_done(f: Scrape) -> bool:
        requests_lag = samples(f, "trend_stream_consumer_lag", topic=name[COLLECT_REQUESTS])
        return (
            total(f, "trend_stream_requests", kind="collect", state="SUCCESS") >= 1
            and total(f, "trend_stream_messages_consumed", topic=name[PROCESSING_REPORTS]) >= 1
            and lag_partitions(f) >= collector_assignment
            and sum(s.value for s in requests_lag) == 0  # the request's offset is committed
        )

    def processor_done(f: Scrape) -> bool:
        return (
            total(f, "trend_stream_messages_consumed", topic=name[ITEMS_RAW]) >= published
            and total(f, "trend_stream_messages_produced", topic=name[PROCESSING_REPORTS]) >= 1
            and lag_partitions(f) >= processor_assignment
        )

    found, processed = await asyncio.gather(
        scrape_until(collector, collector_done, 60.0),
        scrape_until(processor, processor_done, 60.0),
    )
    assert collector_done(found), sorted(found)
    assert processor_done(processed), sorted(processed)

    assert total(found, "trend_stream_messages_consumed", topic=name[COLLECT_REQUESTS]) == 1
    assert total(found, "trend_stream_messages_produced", topic=name[ITEMS_RAW]) == published
    # RECEIVED, STARTED, STARTED (waiting for the processor), SUCCESS
    assert total(found, "trend_stream_messages_produced", topic=name[COLLECT_RESULTS]) >= 3
    assert total(found, "trend_stream_requests", kind="collect", state="RECEIVED") == 1
    assert total(found, "trend_stream_plugin_runs", plugin="file", state="SUCCESS") == 1
    for topic, families in ((name[COLLECT_REQUESTS], found), (name[ITEMS_RAW], processed)):
        histogram = "trend_stream_processing_seconds"
        assert families[histogram].type == "histogram"
        inf = total(families, histogram, f"{histogram}_bucket", topic=topic, le="+Inf")
        assert inf == total(families, histogram, f"{histogram}_count", topic=topic) >= 1
        assert total(families, histogram, f"{histogram}_sum", topic=topic) >= 0
    for families in (found, processed):
        assert families["trend_stream_consumer_lag"].type == "gauge"
        assert all(s.value >= 0 for s in samples(families, "trend_stream_consumer_lag"))
        for counter in ("failures", "retries", "dead_letters"):
            assert families[f"trend_stream_{counter}"].type == "counter"
