"""The Prometheus metrics of a worker: what it consumed, produced, failed, retried and lags."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from streams.messages.records import ProcessRequest, RequestStatus

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "METRICS",
    "LagCollector",
    "MetricsSensor",
    "WorkerMetrics",
    "install_metrics",
    "partition_lags",
    "record_dead_letter",
    "record_failure",
    "record_plugin_run",
    "record_request",
    "record_retry",
    "render",
    "request_kind",
]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""Content type of GET /metrics (Prometheus text format 0.0.4)."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Seconds from an event entering a stream to its ack: a cheap item up to a long plugin run."""
_KINDS = {"collector": "collect", "processor": "process"}


class WorkerMetrics:
    """Every metric of a worker, in its own CollectorRegistry.

    Not prometheus-client's global registry: a unit test builds a fresh `WorkerMetrics` and reads
    exact values; `METRICS`, the one instance of a worker process, is what the services feed.
    Consumer lag is not stored here: it is computed per app at scrape time (`LagCollector`).
    """

    def __init__(self, *, process: bool = False) -> None:
        self.registry = CollectorRegistry()
        self.service = ""
        self.consumed = self._counter("messages_consumed", "Messages consumed", "topic")
        self.produced = self._counter("messages_produced", "Messages produced", "topic")
        self.processing = Histogram(
            "trend_stream_processing_seconds",
            "Seconds from an event entering a stream to the stream acking it",
            ["topic"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.failures = self._counter("failures", "Failed messages", "topic", "error")
        self.retries = self._counter("retries", "Retried messages", "topic", "error")
        self.dead_letters = self._counter("dead_letters", "Dead-lettered", "topic", "error")
        self.requests = self._counter("requests", "Request statuses published", "kind", "state")
        self.plugin_runs = self._counter("plugin_runs", "Plugin runs recorded", "plugin", "state")
        if process:
            ProcessCollector(registry=self.registry)

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(f"trend_stream_{name}", documentation, labels, registry=self.registry)


METRICS = WorkerMetrics(process=True)
"""The metrics of this worker process (one Faust app per process)."""


def record_failure(topic: str, error: str) -> None:
    """Count a message of `topic` that failed with `error` (an exception class name)."""
    METRICS.failures.labels(topic, error).inc()


def record_retry(topic: str, error: str) -> None:
    """Count a retry of a message of `topic` after `error`."""
    METRICS.retries.labels(topic, error).inc()


def record_dead_letter(topic: str, error: str) -> None:
    """Count a message of `topic` sent to the dead-letter topic after `error`."""
    METRICS.dead_letters.labels(topic, error).inc()


def record_plugin_run(plugin: str, state: str) -> None:
    """Count a plugin run that ended in `state` (SUCCESS, FAILURE, REVOKED)."""
    METRICS.plugin_runs.labels(plugin, state).inc()


def request_kind(status: RequestStatus, service: str) -> str:
    """collect, process or other: a processing job by its name, else by the publishing service."""
    if status.plugin in ProcessRequest.jobs:
        return "process"
    return _KINDS.get(service, "other")


def record_request(status: RequestStatus) -> None:
    """Count a published request status by its kind and state."""
    kind = request_kind(status, METRICS.service)
    METRICS.requests.labels(kind, status.state.value).inc()


class MetricsSensor(faust.Sensor):
    """Counts messages in and out per topic and times each event through its stream.

    An event's start is kept by (stream, partition, offset), since a stream acking by hand (as
    `take_events` does) reports the ack without the state `on_stream_event_in` returned.
    """

    max_pending = 100_000
    """Events timed at once at most; beyond, the oldest (never acked) are forgotten."""

    def __init__(self, metrics: WorkerMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self._event_starts: dict[tuple[int, Any, int], float] = {}

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        """A message reached the consumer."""
        self.metrics.consumed.labels(tp.topic).inc()

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        """An event entered a stream: remember when."""
        if len(self._event_starts) >= self.max_pending:
            del self._event_starts[next(iter(self._event_starts))]
        self._event_starts[(id(stream), tp, offset)] = time.monotonic()

    def on_stream_event_out(
        self,
        tp: Any,
        offset: int,
        stream: Any,
        event: Any,
        state: dict[str, Any] | None = None,
    ) -> None:
        """The stream acked the event: observe its latency."""
        started = self._event_starts.pop((id(stream), tp, offset), None)
        if started is not None:
            self.metrics.processing.labels(tp.topic).observe(time.monotonic() - started)

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> str:
        """A message is about to be sent: its topic is the state."""
        return topic

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        """The broker acknowledged a sent message."""
        self.metrics.produced.labels(metadata.topic).inc()

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        """A send failed: counted as a failure of its topic."""
        topic = state if isinstance(state, str) else "unknown"
        self.metrics.failures.labels(topic, type(exc).__name__).inc()


def install_metrics(app: faust.App, service: str, metrics: WorkerMetrics = METRICS) -> None:
    """Feed `metrics` from this app's streams and producer; its statuses count as `service`'s."""
    metrics.service = service
    app.sensors.add(MetricsSensor(metrics))


def partition_lags(
    assigned: Iterable[Any],
    highwaters: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
) -> dict[Any, int]:
    """Lag of each assigned partition: highwater minus committed offset (both the next offset).

    A partition whose highwater is not known yet is left out; one without a committed offset
    counts from 0. Never negative.
    """
    lags = {}
    for tp in assigned:
        end = highwaters.get(tp)
        if end is not None:
            lags[tp] = max(0, end - (committed.get(tp) or 0))
    return lags


class LagCollector(Collector):
    """trend_stream_consumer_lag{topic,partition} of one app, read from its consumer in memory.

    Highwaters come from the fetch responses (aiokafka), committed offsets from Faust's consumer
    (seeded from the broker at assignment, updated at each commit) or else its monitor. A consumer
    that has not started yet gives no series.
    """

    def __init__(self, app: faust.App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """One gauge family, a sample per assigned partition with a known highwater."""
        family = GaugeMetricFamily(
            "trend_stream_consumer_lag",
            "Messages behind: highwater minus committed offset, per assigned partition",
            labels=["topic", "partition"],
        )
        for tp, lag in sorted(self._lags().items()):
            family.add_metric([tp.topic, str(tp.partition)], lag)
        yield family

    def _lags(self) -> dict[Any, int]:
        try:
            consumer = self.app.consumer
            assigned = consumer.assignment()
            highwaters = {tp: consumer.highwater(tp) for tp in assigned}
        except Exception:  # noqa: BLE001 - a consumer not started (or stopping) has no lag
            return {}
        seen: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
        monitored: Mapping[Any, int] = self.app.monitor.tp_committed_offsets
        committed = {tp: seen.get(tp) or monitored.get(tp) for tp in assigned}
        return partition_lags(assigned, highwaters, committed)


class _Scrape(Collector):
    """The worker's registry and one app's lag, as one exposition."""

    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def render(app: faust.App, metrics: WorkerMetrics = METRICS) -> bytes:
    """The body of GET /metrics (content type `CONTENT_TYPE`): every metric, lag as of now."""
    return generate_latest(_Scrape(metrics.registry, LagCollector(app)))
