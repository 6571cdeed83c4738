"""Each service runs as `faust -A services.<name> worker`, serves /health and stops on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.processor.owner import OwnerState
from streams import __version__
from streams.config import ServiceName, Settings
from tests.support.workers import Worker, poll, start_worker

SERVICES: list[ServiceName] = ["collector", "processor", "maintenance"]


@pytest.mark.parametrize("service", SERVICES)
def test_worker_serves_health_and_stops_cleanly(
    service: ServiceName, test_settings: Settings, tmp_path: Path
) -> None:
    worker = start_worker(service, test_settings, tmp_path)
    try:
        report = worker.wait_ready()
        assert report["service"] == service
        assert report["status"] == "ok"
        assert report["broker"] == {"connected": True, "error": None}
        assert report["version"] == __version__
        assert report["app_id"] == f"{test_settings.namespace}trend-stream-{service}"
        assert all(tp.startswith(test_settings.namespace) for tp in report["assignment"])
        assert report["live"] is True
        _assert_live_ready_and_measured(worker)
        if service == "processor":  # the cluster stage's owner state, rules and advice
            stage = httpx.get(f"{worker.url}/health", timeout=5.0).json()["cluster_stage"]
            assert stage["owner"] in {state.value for state in OwnerState}
            assert stage["advice"] is None
    finally:
        code = worker.stop()
    output = worker.output()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    assert "level=ERROR" not in output, output[-3000:]


def _assert_live_ready_and_measured(worker: Worker) -> None:
    """/health/live answers, /health/ready turns 200, /metrics parses with the worker's series."""
    assert httpx.get(f"{worker.url}/health/live", timeout=5.0).json()["live"] is True
    ready = poll(lambda: httpx.get(f"{worker.url}/health/ready", timeout=5.0).is_success, 30.0)
    assert ready, worker.output()[-3000:]
    metrics = httpx.get(f"{worker.url}/metrics", timeout=5.0)
    assert metrics.status_code == 200
    names = {family.name for family in text_string_to_metric_families(metrics.text)}
    assert {"trend_stream_messages_consumed", "trend_stream_consumer_lag"} <= names
