"""The worker's metrics: sensor counting, lag arithmetic, request kinds and the exposition."""

from __future__ import annotations

import faust
import pytest
from faust.types import TP
from faust.types.tuples import RecordMetadata
from prometheus_client.parser import text_string_to_metric_families

from streams.messages.metrics import (
    METRICS,
    MetricsSensor,
    WorkerMetrics,
    partition_lags,
    record_dead_letter,
    record_failure,
    record_plugin_run,
    record_retry,
    render,
    request_kind,
)
from streams.messages.records import RequestState, RequestStatus
from streams.requests.reporting import StatusReporter
from streams.servers.health import is_ready

ITEMS = TP("items.raw", 0)


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics() -> WorkerMetrics:
    return WorkerMetrics()


@pytest.fixture
def sensor(metrics: WorkerMetrics) -> MetricsSensor:
    return MetricsSensor(metrics)


def test_the_sensor_counts_messages_in_by_topic(
    metrics: WorkerMetrics, sensor: MetricsSensor
) -> None:
    for offset in range(3):
        sensor.on_message_in(ITEMS, offset, None)
    sensor.on_message_in(TP("control", 0), 0, None)
    assert value(metrics, "trend_stream_messages_consumed_total", topic="items.raw") == 3
    assert value(metrics, "trend_stream_messages_consumed_total", topic="control") == 1


def test_the_sensor_counts_sends_completed_and_failed(
    metrics: WorkerMetrics, sensor: MetricsSensor
) -> None:
    state = sensor.on_send_initiated(None, "collect.results", None, 3, 10)
    sensor.on_send_completed(None, state, RecordMetadata("collect.results", 1, ITEMS, 7))
    sensor.on_send_error(None, TimeoutError("broker gone"), state)
    assert value(metrics, "trend_stream_messages_produced_total", topic="collect.results") == 1
    failures = value(
        metrics, "trend_stream_failures_total", topic="collect.results", error="TimeoutError"
    )
    assert failures == 1


def test_the_sensor_times_each_event_through_its_stream(
    metrics: WorkerMetrics, sensor: MetricsSensor
) -> None:
    stream, other = object(), object()
    for offset in range(3):
        sensor.on_stream_event_in(ITEMS, offset, stream, None)
    sensor.on_stream_event_out(ITEMS, 0, stream, None, None)  # acked by hand: no state
    sensor.on_stream_event_out(ITEMS, 1, stream, None, {})
    sensor.on_stream_event_out(ITEMS, 2, other, None, None)  # another stream's event: unknown
    sensor.on_stream_event_out(ITEMS, 0, stream, None, None)  # acked twice: timed once
    assert value(metrics, "trend_stream_processing_seconds_count", topic="items.raw") == 2
    inf = value(metrics, "trend_stream_processing_seconds_bucket", topic="items.raw", le="+Inf")
    assert inf == 2
    assert value(metrics, "trend_stream_processing_seconds_sum", topic="items.raw") >= 0


def test_the_sensor_forgets_the_oldest_events_never_acked(
    metrics: WorkerMetrics, sensor: MetricsSensor
) -> None:
    sensor.max_pending = 2
    stream = object()
    for offset in range(3):
        sensor.on_stream_event_in(ITEMS, offset, stream, None)
    for offset in range(3):
        sensor.on_stream_event_out(ITEMS, offset, stream, None, None)
    assert value(metrics, "trend_stream_processing_seconds_count", topic="items.raw") == 2


def test_lag_is_highwater_minus_committed_per_assigned_partition() -> None:
    a0, a1, a2, other = TP("a", 0), TP("a", 1), TP("a", 2), TP("b", 0)
    highwaters = {a0: 10, a1: 5, a2: None, other: 99}
    committed = {a0: 4, a1: 7, other: 1}
    lags = partition_lags([a0, a1, a2, TP("a", 3)], highwaters, committed)
    assert lags == {a0: 6, a1: 0}


def test_lag_counts_from_zero_without_a_committed_offset() -> None:
    assert partition_lags([ITEMS], {ITEMS: 12}, {ITEMS: None}) == {ITEMS: 12}
    assert partition_lags([ITEMS], {ITEMS: 12}, {}) == {ITEMS: 12}


@pytest.mark.parametrize(
    ("plugin", "service", "kind"),
    [
        ("hackernews", "collector", "collect"),
        ("all", "collector", "collect"),
        ("sweep", "processor", "process"),
        ("generate_embeddings", "", "process"),
        ("", "processor", "process"),
        ("cleanup", "maintenance", "other"),
        ("", "", "other"),
    ],
)
def test_request_kind(plugin: str, service: str, kind: str) -> None:
    status = RequestStatus(request_id="r1", state=RequestState.SUCCESS, plugin=plugin)
    assert request_kind(status, service) == kind


async def test_every_published_status_is_counted_by_kind_and_state() -> None:
    published: list[RequestStatus] = []

    async def sink(status: RequestStatus) -> None:
        published.append(status)

    def count(state: str) -> float:
        return value(METRICS, "trend_stream_requests_total", kind="process", state=state)

    before = {state: count(state) for state in ("RECEIVED", "SUCCESS")}
    report = StatusReporter(sink, "job-1", "sweep")
    await report(RequestState.RECEIVED)
    await report(RequestState.SUCCESS, result={})
    assert len(published) == 2
    assert {state: count(state) - before[state] for state in before} == {
        "RECEIVED": 1,
        "SUCCESS": 1,
    }


def test_the_record_functions_count_in_the_worker_metrics() -> None:
    names = {
        "trend_stream_failures_total": record_failure,
        "trend_stream_retries_total": record_retry,
        "trend_stream_dead_letters_total": record_dead_letter,
    }
    for name, record in names.items():
        labels = {"topic": "items.raw", "error": "PipelineError"}
        before = value(METRICS, name, **labels)
        record("items.raw", "PipelineError")
        assert value(METRICS, name, **labels) == before + 1
    labels = {"plugin": "file", "state": "SUCCESS"}
    before = value(METRICS, "trend_stream_plugin_runs_total", **labels)
    record_plugin_run("file", "SUCCESS")
    assert value(METRICS, "trend_stream_plugin_runs_total", **labels) == before + 1


def test_render_parses_and_has_no_lag_before_the_consumer_starts() -> None:
    record_retry("items.raw", "TimeoutError")
    app = faust.App("metrics-unit-test", broker="kafka://127.0.0.1:1")
    families = {f.name: f for f in text_string_to_metric_families(render(app).decode())}
    assert families["trend_stream_consumer_lag"].type == "gauge"
    assert families["trend_stream_consumer_lag"].samples == []
    assert families["trend_stream_retries"].type == "counter"
    assert families["trend_stream_processing_seconds"].type == "histogram"
    assert "process_cpu_seconds" in families


@pytest.mark.parametrize(
    ("connected", "assignment", "rebalancing", "ready"),
    [
        (True, ["items.raw:0"], False, True),
        (False, ["items.raw:0"], False, False),
        (True, [], False, False),
        (True, ["items.raw:0"], True, False),
    ],
)
def test_readiness(connected: bool, assignment: list[str], rebalancing: bool, ready: bool) -> None:
    assert is_ready(connected, assignment, rebalancing) is ready
