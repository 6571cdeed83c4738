"""Each service runs as `faust -A services.<name> worker`, serves /health and stops on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import __version__
from streams.config import ServiceName, Settings
from tests.support.workers import start_worker

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
    finally:
        code = worker.stop()
    output = worker.output()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    assert "level=ERROR" not in output, output[-3000:]
